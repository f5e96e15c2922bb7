"""Employers' job boards as sources of opportunities: the providers' clients and the sync.

Nothing here knows about chat: ``providers`` fetches and reads the boards' public JSON,
``engine`` applies what it found to the database; ``handlers.listings.sources`` is the chat side.
"""
