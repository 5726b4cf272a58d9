"""One TLS context for the short-lived HTTP clients of the lab's services.

httpx builds a fresh `ssl.SSLContext` for every client it makes (a `Client()`, or each
`httpx.get()`), loading the whole CA bundle each time: about 20 ms of CPU, even when the URL
is plain http on loopback. Probes and waits that make a client per call every second spent
most of their CPU there (half of observability's, measured with py-spy). A client built
with `verify=client_tls()` reuses this one context instead; certificate checks are the same
as httpx's default (certifi's bundle, or SSL_CERT_FILE / SSL_CERT_DIR when set).
"""

import functools
import ssl

import httpx


@functools.cache
def client_tls() -> ssl.SSLContext:
    """The shared context: httpx's default verification, built once per process."""
    return httpx.create_ssl_context()
