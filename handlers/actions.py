"""Every button action, declared once: handlers register theirs with ``registry.action(REF)``
and build every button's payload with ``REF.payload(...)``, never from a string, so a button
can only press an action that exists (tests/test_buttons.py checks both).

The names are what buttons already sent to people's chats carry: changing one makes those
buttons stale, so they stay as they are. Each comment gives the parts after the name.
"""

from __future__ import annotations

from bot.core import ActionRef

# people: general, onboarding, consent, privacy, colleagues, staff
LANGUAGE = ActionRef("lang")  # CODE
ONBOARDING = ActionRef("onb")  # STEP[:VALUE]: an answer to an onboarding question
GUARDIAN = ActionRef("gc")  # rel:WORD | yes | no
CONSENT_ON_FILE = ActionRef("cf")  # STUDENT
CONSENT_WITHDRAW = ActionRef("cw")  # STUDENT
CONSENT_WITHDRAW_KEEP = ActionRef("cwn")
CONSENT_WITHDRAW_YES = ActionRef("cwy")  # STUDENT
FORGET_NO = ActionRef("fgn")
FORGET_YES = ActionRef("fgy")
MEMBERSHIP_APPROVE = ActionRef("mra")  # REQUEST
MEMBERSHIP_DECLINE = ActionRef("mrd")  # REQUEST
COLLEAGUE_REMOVE = ActionRef("colr")  # MEMBER
COLLEAGUE_REMOVE_CANCEL = ActionRef("colx")
COLLEAGUE_REMOVE_YES = ActionRef("colrm")  # MEMBER
THREAD = ActionRef("th")  # INTEREST

# people: questions
ASK_TEACHER = ActionRef("ask")  # SHOWN_AT: pass on the text the bot did not understand
QUESTION_ANSWER = ActionRef("qa")  # QUESTION: a teacher answers a student's question

# listings: browse, saved, flags, opportunities, sources
PAGE = ActionRef("pg")  # PAGE (from 0)
ORDER = ActionRef("ord")  # ORDER
OPEN_LISTING = ActionRef("opp")  # OPPORTUNITY
BACK_TO_LIST = ActionRef("back")
FILTER = ActionRef("flt")  # [kind | tag | where | text]
FILTER_KIND = ActionRef("fk")  # KIND
FILTER_TAG = ActionRef("ft")  # TAG
FILTER_REMOTE = ActionRef("fr")  # 1 | 0
FILTER_PAID = ActionRef("fp")  # 1
FILTER_REMOVE = ActionRef("fx")  # FILTER
FILTERS_CLEAR = ActionRef("fclr")
SAVE = ActionRef("sv")  # OPPORTUNITY
UNSAVE = ActionRef("usv")  # OPPORTUNITY
REPORT_PROBLEM = ActionRef("rep")  # OPPORTUNITY[:REASON]
REPORT_RESTORE = ActionRef("rpr")  # OPPORTUNITY
REPORT_CLOSE = ActionRef("rpc")  # OPPORTUNITY
FORM = ActionRef("of")  # FIELD:VALUE | done: an answer in the /publish or /edit form
FORM_CANCEL = ActionRef("ofx")
PROPOSAL_APPROVE = ActionRef("opa")  # OPPORTUNITY
PROPOSAL_REJECT = ActionRef("opr")  # OPPORTUNITY
SOURCE = ActionRef("src")  # WHAT:SOURCE

# applications: interest, matches
INTEREST = ActionRef("int")  # OPPORTUNITY
INTEREST_NO_NOTE = ActionRef("intn")  # OPPORTUNITY
INTEREST_CANCEL = ActionRef("intx")  # OPPORTUNITY
MY_APPLICATIONS = ActionRef("mine")
WITHDRAW = ActionRef("wd")  # INTEREST
WITHDRAW_YES = ActionRef("wdy")  # INTEREST
EMPLOYER_ANSWER = ActionRef("em")  # INTEREST:inv|ask|dec|decn|msg|pl
EMPLOYER_ANSWER_CANCEL = ActionRef("emx")  # INTEREST:SHOWN_AT
APPLICATION = ActionRef("emo")  # INTEREST
STAFF_PLACE = ActionRef("tpl")  # INTEREST
STUDENT_REPLY = ActionRef("sr")  # INTEREST
STUDENT_REPLY_CANCEL = ActionRef("srx")  # INTEREST:SHOWN_AT

# placements: placements, hours, feedback
PLACEMENT = ActionRef("plo")  # PLACEMENT
PLACEMENT_CHANGE = ActionRef("plc")  # PLACEMENT:dates|sup|hours
PLACEMENT_SUPERVISOR = ActionRef("plsv")  # PLACEMENT:MEMBER
HOURS_PLACEMENT = ActionRef("hrp")  # PLACEMENT:YYYYMMDD:MINUTES
HOURS_CONFIRM = ActionRef("hrc")  # ENTRY:MINUTES
HOURS_QUERY = ActionRef("hrq")  # ENTRY:MINUTES
HOURS_QUERY_CANCEL = ActionRef("hrx")
MY_HOURS = ActionRef("hrs")
FEEDBACK_RATING = ActionRef("fbr")  # REQUEST:1-5
FEEDBACK_SKIP = ActionRef("fbs")  # REQUEST
FEEDBACK_NO_COMMENT = ActionRef("fbn")  # REQUEST

# messaging: reminders, digest, announcements
REMIND = ActionRef("rmd")  # OPPORTUNITY
REMIND_CANCEL = ActionRef("rmc")  # OPPORTUNITY:SHOWN_AT
MY_REMINDERS = ActionRef("rml")
REMINDER_CANCEL = ActionRef("rmx")  # REMINDER
DIGEST_DAY = ActionRef("dg")  # 0-6 | off | stop
ALERT = ActionRef("al")  # stop | rm:ALERT | every:DAYS
PAUSE_NEWS = ActionRef("ps")  # 7 | 30 | on | off: alerts and the digest
ANNOUNCE_AUDIENCE = ActionRef("ana")  # ANNOUNCEMENT:school|cohorts|tags|opp|preview
ANNOUNCE_COHORT = ActionRef("anc")  # ANNOUNCEMENT:COHORT
ANNOUNCE_TAG = ActionRef("ant")  # ANNOUNCEMENT:TAG
ANNOUNCE_SEND = ActionRef("ans")  # ANNOUNCEMENT[:urgent]
ANNOUNCE_SCHEDULE = ActionRef("ansc")  # ANNOUNCEMENT[:urgent]
ANNOUNCE_CANCEL = ActionRef("anx")  # [ANNOUNCEMENT]
ANNOUNCE_REPORT = ActionRef("anr")  # ANNOUNCEMENT

# reports: objectives, evidence
OBJECTIVE_REMOVE = ActionRef("obx")  # OBJECTIVE
EVIDENCE_CSV = ActionRef("evc")  # GRADE | all
EVIDENCE_NUDGE = ActionRef("evn")  # GRADE:enc|wex
EVIDENCE_OWN_TEXT = ActionRef("evt")  # ANNOUNCEMENT
EVIDENCE_RECORD = ActionRef("evr")  # STUDENT
EVIDENCE_KIND = ActionRef("evk")  # enc | wex
EVIDENCE_TWO_WAY = ActionRef("ev2")  # y | n
EVIDENCE_SAVE = ActionRef("evs")
EVIDENCE_CANCEL = ActionRef("evx")
EVIDENCE_WENT = ActionRef("evw")  # INTEREST
EVIDENCE_DOWNLOAD = ActionRef("evd")
EVIDENCE_ATTENDED = ActionRef("eva")  # INTEREST:y|n: did the student go to the event
