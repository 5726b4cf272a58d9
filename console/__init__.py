"""The web console: the lab, incidents, chaos, game days and the audit in a browser.

Server-rendered (FastAPI + Jinja2, a few lines of vanilla JS for live parts); login with a
console token, a session cookie, CSRF tokens on every form, roles viewer and operator. It
holds the chaos key and its approver token server-side: the browser never sees either.
"""
