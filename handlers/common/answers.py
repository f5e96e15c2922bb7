"""Short answers people type, in every language we speak: yes, no, skip, done, stop, and the
units of /hours.

A question asked in Spanish is answered "sí", one asked in Polish "tak"; a dialog that reads a
typed word checks it with ``means(text, YES)``, so any of the five languages works whatever the
person's own (people mix them, and a parent may answer in another language than their child).
English stays in every table. Each word is written as people type it, with and without its
accents where phones often leave them out; ``means`` ignores case, spaces around the word and
the punctuation a sentence ends with.
"""

from __future__ import annotations

_ENDINGS = ".!?¡¿؟،,;…"


def _words(*groups: str) -> frozenset[str]:
    """One group a language, its answers separated by "|"."""
    return frozenset(word for group in groups for word in group.split("|"))


YES = _words(
    "yes|y|yeah|yep|yup",
    "sí|si|claro",
    "نعم|أجل|اجل|ايوه|أيوه|ايوا",
    "tak|jasne|oczywiście|oczywiscie",
    "так|ага|авжеж|звісно|звичайно",
)
NO = _words(
    "no|n|nope|nah",
    "no|nop|para nada",
    "لا|كلا|لأ",
    "nie|n",
    "ні|нi|не",
)
# "I'd rather not say" to a question that may be left out.
SKIP = _words(
    "skip|skip it|skip for now|none|nothing",
    "omitir|saltar|saltar por ahora|paso|ninguno|ninguna|nada",
    "تخطي|تخطى|تخطي الآن|لا شيء|لا شي",
    "pomiń|pomin|na razie pomiń|brak|nic|żadne|zadne",
    "пропустити|пропусти|поки пропустити|нічого|немає|нема|жодного",
)
# "That's all" after picking things one at a time.
DONE = _words(
    "done|next|that's all|thats all|finished|ready",
    "listo|lista|hecho|terminado|terminé|termine|ya está|ya esta|siguiente|eso es todo",
    "تم|انتهيت|خلصت|التالي|هذا كل شيء|جاهز",
    "gotowe|gotowy|gotowa|dalej|koniec|to wszystko|zrobione",
    "готово|далі|все|усе|це все|кінець",
)
# Turning something off (the weekly digest, alerts).
STOP = _words(
    "stop|off|cancel|none|no",
    "parar|detener|apagar|desactivar|cancelar|ninguno|no",
    "إيقاف|ايقاف|توقف|أوقف|اوقف|إلغاء|الغاء|لا",
    "stop|wyłącz|wylacz|anuluj|przestań|przestan|nie",
    "стоп|вимкнути|вимкни|зупинити|скасувати|ні",
)
# Not knowing the answer (is the placement paid?).
# A way out of whatever the bot is asking: said alone, it runs /cancel.
CANCEL = _words(
    "cancel|cancel it|never mind|nevermind",
    "cancelar|cancela|olvídalo|olvidalo|déjalo|dejalo",
    "إلغاء|الغاء|ألغِ|الغِ|انسَ الأمر|انس الامر",
    "anuluj|nieważne|niewazne|zapomnij",
    "скасувати|скасуй|відміна|неважливо",
)
NOT_SURE = _words(
    "not sure|unknown|don't know|dont know|?",
    "no sé|no se|no lo sé|no lo se|no estoy seguro|no estoy segura|ni idea",
    "لا أعرف|لا اعرف|لست متأكدا|لست متأكدًا|غير متأكد|غير معروف",
    "nie wiem|nie jestem pewien|nie jestem pewna|nie mam pewności",
    "не знаю|не впевнений|не впевнена|невідомо",
)
# A listing's date left out.
NO_DATE = SKIP | _words(
    "no deadline|no date|-",
    "sin fecha|sin plazo|sin fecha límite|sin fecha limite",
    "بلا موعد نهائي|بدون موعد|بدون تاريخ",
    "bez terminu|bez daty|brak terminu",
    "без терміну|без дати|без дедлайну",
)
REMOTE = _words(
    "remote|remote only|online",
    "remoto|a distancia|solo a distancia|en línea|en linea",
    "عن بعد|عن بُعد|عن بُعد فقط|عن بعد فقط|أونلاين|اونلاين",
    "zdalnie|zdalna|zdalne|tylko zdalnie",
    "віддалено|дистанційно|онлайн|лише віддалено",
)
PAID = _words("paid", "pagado|pagada|remunerado|remunerada", "مدفوع|مدفوعة|مدفوعة الأجر")
PAID |= _words("płatna|płatne|platna|platne", "оплачувана|оплачуване|з оплатою")
UNPAID = _words("unpaid", "no pagado|no pagada|no remunerado|no remunerada")
UNPAID |= _words("غير مدفوع|غير مدفوعة|غير مدفوعة الأجر", "bezpłatna|bezpłatne|bezplatna|bezplatne")
UNPAID |= _words("неоплачувана|неоплачуване|без оплати")
IN_PERSON = _words(
    "in person|on site",
    "presencial|en persona",
    "حضوري|حضوريا|حضوريًا|في الموقع",
    "stacjonarnie|na miejscu|osobiście|osobiscie",
    "очно|на місці|особисто",
)

# /hours units: "3h", "2 horas", "1,5 godz", "90 хв", "3 ساعات"; longer spellings first, so
# that "hours" is not read as "h" and a stray "ours".
HOUR_UNITS = (
    "hours|hour|hrs|hr|h",
    "horas|hora|hs",
    "ساعات|ساعة|ساعه|س",
    "godziny|godzina|godzin|godz\\.?",
    "годин|години|година|годину|год\\.?",
)
MINUTE_UNITS = (
    "minutes|minute|mins|min|m",
    "minutos|minuto",
    "دقائق|دقيقة|دقيقه|د",
    "minuty|minuta|minut",
    "хвилин|хвилини|хвилина|хвилину|хв\\.?",
)


def unit_pattern(units: tuple[str, ...]) -> str:
    """A regular expression for one of ``units`` (a group without a name)."""
    alternatives = sorted({u for group in units for u in group.split("|")}, key=len, reverse=True)
    return "(?:" + "|".join(alternatives) + ")"


def answer(text: str) -> str:
    """``text`` as the tables hold words: lower case, one space, no closing punctuation."""
    return " ".join(text.casefold().replace("’", "'").split()).strip(_ENDINGS).strip()


def means(text: str, words: frozenset[str]) -> bool:
    """Whether ``text`` is one of ``words``, in any of our languages ("?" is a word too)."""
    return answer(text) in words or " ".join(text.casefold().split()) in words
