"""E-mail notifications of Libeo: what is told to whom (``kinds``), written with the events that cause
them (``events``), each person's choices (``preferences``); the machinery is ``core.notifications``.
"""
