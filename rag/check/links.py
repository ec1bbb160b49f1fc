"""Links in text, with or without a scheme (pure): what an injected instruction points readers to.

A link is a URL with a scheme (``http://``, ``https://``, ``ftp://``), anything starting with
``www.``, an IPv4 address (small dotted quads only with a port or path: "4.8.3.1" is a section
number), or a bare domain (``evil.example/reef``). A bare domain needs a
top-level domain that code and file names do not use (``com``, ``org``, ``example`` ...), or a
path or port after a country or newer TLD (``evil.io/x``): ``logging.info``, ``setup.py`` and
``os.path`` are not links. E-mail addresses are not links. Written by hand: a full URL parser
(``urllib``) only splits strings already known to be URLs.
"""

from __future__ import annotations

import re

_TAIL = r"[^\s<>\"'\])}]*"  # a path or query: up to a space, a quote or a closing bracket
# Top-level domains that identifiers and file names do not end in.
_STRICT_TLDS = ("com|org|net|edu|gov|mil|int|biz|xyz|online|site|website|top|club|shop|store|news|blog|"
                "example|test|invalid|localhost|onion|museum|travel|email")
# Country and newer TLDs that also end identifiers (``logging.info``, ``self.app``): links only
# with a path or a port after them.
_OTHER_TLDS = ("io|ai|app|dev|info|me|tv|cc|co|uk|de|fr|es|it|nl|ru|cn|jp|kr|il|eu|ch|au|ca|br|mx|se|dk|fi|"
               "gr|ie|cz|hu|ro|tr|ua|ir|sa|ae|eg|za|ng|ke|ar|cl|nz|sg|hk|tw|vn|th|ph|pk|pt|pl|at|be|us|ly|gl|"
               "to|is|in|so|sh|ws|gg|cloud|tech|link|click|page|live|zip|mov")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_URL = re.compile(
    rf"\b(?:https?|ftp)://{_TAIL}"
    rf"|\bwww\.{_TAIL}"
    rf"|(?<![\w.@/-]){_OCTET}(?:\.{_OCTET}){{3}}(?![\w-]|\.\d)(?::\d{{1,5}})?(?:/{_TAIL})?"
    rf"|(?<![\w.@/-])(?:{_LABEL}\.)+(?:(?:{_STRICT_TLDS})(?![\w-]|\.\w)(?::\d{{1,5}})?(?:/{_TAIL})?"
    rf"|(?:{_OTHER_TLDS})(?::\d{{1,5}})?/{_TAIL})",
    re.IGNORECASE)


def urls_in(text: str) -> list[str]:
    """Links in ``text`` (trailing punctuation dropped).

    >>> urls_in("See http://attacker.example/x. Or www.example.org, please.")
    ['http://attacker.example/x', 'www.example.org']
    >>> urls_in("Go to evil.example/reef or 203.0.113.7:8080/a, not logging.info, setup.py or 4.8.3.1.")
    ['evil.example/reef', '203.0.113.7:8080/a']
    >>> urls_in("Ping 127.0.0.1 or 10.0.0.1/24.")
    ['127.0.0.1', '10.0.0.1/24']
    """
    found = (m.group().rstrip(".,;:!?") for m in _URL.finditer(text))
    return [url for url in found if not _SECTION_NUMBER.fullmatch(url)]


# A dotted quad of small numbers alone is a section number ("4.8.3.1"), not an address: an IPv4
# address counts without a port or path only with an octet over 99 or two over 9 ("127.0.0.1").
_SECTION_NUMBER = re.compile(r"(?!.*\d{3})(?!(?:.*\d\d){2})\d+(?:\.\d+){3}")


def host(url: str) -> str:
    """The host of a link, lower-cased, without scheme, ``www.``, port or path: what two spellings
    of one link share ("http://evil.example/reef" and "evil.example/reef").

    >>> host("HTTPS://www.Evil.example:8080/reef?x=1")
    'evil.example'
    """
    rest = re.sub(r"^[a-z]+://", "", url.lower())
    rest = re.split(r"[/:?#]", rest, maxsplit=1)[0]
    return rest.removeprefix("www.")
