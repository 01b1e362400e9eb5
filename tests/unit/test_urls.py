import pytest

from ingest.urls import canonical_url


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("HTTP://Example.COM:80/News/Story.html#comments", "http://example.com/News/Story.html"),
        (
            "https://example.com:443/a?utm_source=x&id=7&UTM_medium=y&fbclid=z",
            "https://example.com/a?id=7",
        ),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com", "https://example.com/"),
        ("  https://example.com./a  ", "https://example.com/a"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
    ],
)
def test_canonical_url(raw, canonical):
    assert canonical_url(raw) == canonical
