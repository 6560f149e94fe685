"""The shapes of secrets the redactor knows, one rule per shape, in the order they are tried.

Each rule is a pattern and what replaces a match; a rule whose shape alone is not enough (a card number,
an AWS secret key, a value next to a name like `signing_key`) also has a check on the matched value —
the Luhn sum, the Shannon entropy and mix of character classes, "is this code rather than a value".
Shapes follow detect-secrets' published plugins (AWS, Azure storage, Slack, Discord, Stripe, Twilio, JWT,
private keys, basic auth, keyword) and the providers' documented formats; where a shape is wide, the check
keeps it from eating what an investigation is made of (SHAs, trace ids, epoch times, identifiers).
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

REDACTED = "[REDACTED:{kind}]"


@dataclass(frozen=True)
class Rule:
    kind: str
    pattern: re.Pattern[str]
    gate: Gate
    keep: str = ""  # the group that stays in front of the secret (a scheme, a header name, `name=`)
    check: Callable[[str], bool] | None = None  # the secret group must pass it, or the match stays

    def apply(self, text: str, lower: str) -> tuple[str, int]:
        if not self.gate(text, lower):
            return text, 0
        found = 0

        def replace(m: re.Match[str]) -> str:
            nonlocal found
            secret = m.group("secret")
            if self.check is not None and not self.check(secret):
                return m.group(0)
            found += 1
            # A key spread over lines keeps its line breaks (and a diff's +/- marks): the lines around it
            # keep their numbers.
            breaks = "".join(re.findall(r"\n[+\- ]?", secret)) if "\n" in secret else ""
            return (m.group("keep") if self.keep else "") + REDACTED.format(kind=self.kind) + breaks

        return self.pattern.sub(replace, text), found


@dataclass(frozen=True)
class Gate:
    """Can a rule's pattern match this text at all? Any of `words` (in the lower-cased text), any of `cased`
    (as written), or a run of `run_length` characters of `run_alphabet` (`run_skip` ignored). Most log lines
    hold no secret, and a pattern costs microseconds per line where a substring test costs nanoseconds; a
    store asks the same question in SQL (`sql`) before handing a line to the redactor."""

    words: tuple[str, ...] = ()
    cased: tuple[str, ...] = ()
    run_alphabet: str = ""
    run_length: int = 0
    run_skip: str = ""

    def __call__(self, text: str, lower: str) -> bool:
        return (any(w in lower for w in self.words) or any(w in text for w in self.cased)
                or (self.run_length > 0 and len(text) >= self.run_length
                    and "a" * self.run_length in text.translate(_translation(self.run_alphabet, self.run_skip))))

    def sql(self) -> str:
        """The same test as an RE2 expression."""
        parts = [f"(?i:{'|'.join(map(re.escape, self.words))})"] if self.words else []
        parts += map(re.escape, self.cased)
        if self.run_length:
            chars = "[" + "".join("\\" + c if c in "\\]^-" else c for c in self.run_alphabet) + "]"
            skip = "[" + "".join("\\" + c if c in "\\]^-" else c for c in self.run_skip) + "]?" if self.run_skip else ""
            parts.append(f"(?:{chars}{skip}){{{self.run_length}}}")
        return "|".join(parts)


@functools.cache
def _translation(alphabet: str, skip: str) -> dict[int, str | None]:
    # ASCII outside the alphabet becomes ".", the alphabet "a", `skip` vanishes; other characters stay and
    # never equal "a".
    return {**dict.fromkeys(range(128), "."), **{ord(c): "a" for c in alphabet}, **{ord(c): None for c in skip}}


def _words(*words: str) -> Gate:
    return Gate(words=words)


def _cased(*words: str) -> Gate:
    return Gate(cased=words)


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def _classes(value: str) -> int:
    return sum(any(f(c) for c in value) for f in (str.islower, str.isupper, str.isdigit))


def random_looking(value: str) -> bool:
    """A generated value rather than a word, an identifier or a hex id (a SHA, a trace id): upper case,
    lower case and digits, close to the entropy of random text of its length."""
    core = value.strip("=")
    return len(core) >= 12 and _classes(core) == 3 and entropy(core) >= min(3.5, math.log2(len(core)) - 0.9)


def _aws_secret(value: str) -> bool:
    return random_looking(value) and not value.startswith("/") and value.count("/") <= 2  # not a path


def _generated(value: str) -> bool:
    """A value next to a wide name (`signing_key`): letters and digits, no word, entropy of hex or more."""
    return (len(value) >= 16 and any(c.isdigit() for c in value) and _classes(value) >= 2
            and entropy(value) >= 3.2 and not _CODE.match(value))


def luhn(value: str) -> bool:
    digits = [int(c) for c in value if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(reversed(digits)))
    return total % 10 == 0


_CODE = re.compile(r"""(?x)
    (?:os\.environ|os\.getenv|getenv|process\.env|ENV|env|System\.getenv|config|settings|self|this|secrets)\b
  | [A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$         # a dotted path: settings.SECRET_KEY
  | [A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$            # a constant's name: STRIPE_KEY
  | [A-Za-z_]*(?i:password|passwd|pwd|secret|token|key|credentials?)[A-Za-z_]*$  # a variable: `= password`
  | (?:~|\.{1,2})?/[\w./-]*$                    # a path to where the secret is kept
""")


def not_code(value: str) -> bool:
    """A value, not an expression that reads one (`os.environ`, `settings.X`, a constant's name)."""
    return not _CODE.match(value)


def _credential_value(value: str) -> bool:
    """A Bearer/Basic credential: it has digits or mixed case; `Basic authentication failed` has neither."""
    return _classes(value) >= 2 or any(c.isdigit() for c in value)


_HEX = "0123456789abcdefABCDEF"
_BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_Q = r"""(?:\\?["'])?"""  # an optional quote, maybe escaped: the line may sit inside a JSON string
# Values that are placeholders, not secrets: SQL parameters, templates, references, earlier redactions.
_PLACEHOLDER = r"(?!\$\d|\$\{|\?|:[A-Za-z_]|%s|%\(|\{\{|<[A-Za-z_*]|\*{3}|\[REDACTED)"
# A value ends where a quote, a separator or the line ends; one followed by `(` or `[` is code calling.
_VALUE = r"(?P<secret>[^\s\"',;&}\\()\[\]<>]{%d,})(?=[\s\"',;&}\\<>)\]]|$)"
_SECRET_NAME = (r"[A-Za-z0-9_.-]*?(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key"
                r"|auth[_-]?key|credentials?|private[_-]?key|client[_-]?secret|passphrase)[A-Za-z0-9_-]*")
_KEY_NAME = r"[A-Za-z0-9_.-]*?(?:key|signature|sig|salt|cookie|license)[A-Za-z0-9_-]*"
_URL_REST = r"[^\s\"'<>`)\]]+"


def _named(names: str, min_len: int) -> str:
    """name = value, name: value, "name": "value", ?name=value — for a name that says it holds a secret."""
    return r"(?i)(?P<keep>\b" + names + _Q + r"\s*[:=]\s*" + _Q + r")" + _PLACEHOLDER + _VALUE % min_len


def _rule(kind: str, gate: Gate, regex: str, keep: bool = False, check: Callable[[str], bool] | None = None,
          flags: int = 0) -> Rule:
    return Rule(kind, re.compile(regex, flags), gate, "keep" if keep else "", check)


RULES: tuple[Rule, ...] = (
    # To its END line; a key cut short (a truncated log line) to where its base64 body stops. The body may
    # run over lines of a diff (+/- marks) or a JSON string (\n escapes).
    _rule("private_key", _cased("-----BEGIN"), r"(?P<secret>-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?:.*?-----END "
          r"(?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|(?:[A-Za-z0-9+/=\s]|\\n)*))", flags=re.DOTALL),
    # A GCP service-account file's other secret half: the key's id (the private key itself is above).
    _rule("cloud_key", _words("private_key_id"), r"(?P<keep>\\?\"private_key_id\\?\"\s*:\s*\\?\")(?P<secret>[0-9a-f]{32,})", keep=True),
    _rule("jwt", _cased("eyJ"), r"(?P<secret>\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{8,})"),
    # Incoming webhooks are credentials in the URL: whoever has it can post. The host stays.
    _rule("webhook_url", _words("hooks.slack", "discord", "webhook", "chat.googleapis"), r"(?P<keep>https?://(?:hooks\.slack\.com/(?:services|workflows|triggers)"
          r"|(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks|[\w-]+\.webhook\.office\.com/webhook(?:b2)?"
          r"|outlook\.office(?:365)?\.com/webhook|chat\.googleapis\.com/v1/spaces)/)(?!\[REDACTED)(?P<secret>" + _URL_REST + ")",
          keep=True),
    # user:password@ in a URL of any scheme: DSNs, basic-auth URLs, `redis://:password@`. Scheme and host
    # stay; a password holding `@` is taken to the last `@` before the host.
    _rule("connection_string", _cased("://"), r"(?i)(?P<keep>\b[a-z][a-z0-9+._-]{1,30}://)(?P<secret>[^\s/@:'\"\[\]<>]*:"
          r"[^\s/'\"<>]*)(?=@[\w.\[-])", keep=True),
    # ADO/ODBC style: Server=...;User Id=...;Password=...;
    _rule("connection_string", _words("password", "pwd"), r"(?i)(?P<keep>;\s*(?:Password|Pwd)\s*=\s*)" + _PLACEHOLDER
          + r"(?P<secret>[^;\s'\"]+)(?=;|$|\s|[\"'])", keep=True),
    # Azure storage and service-bus strings, SAS tokens and signed URLs: the key or the signature.
    _rule("cloud_key", _words("accountkey", "sharedaccess", "sharedsecret"), r"(?i)(?P<keep>\b(?:AccountKey|SharedAccessKey|SharedSecretValue|SharedAccessSignature)"
          r"\s*=\s*)(?P<secret>[A-Za-z0-9+/%=&:._-]{16,}?)(?=;|$|\s|[\"'])", keep=True),
    _rule("cloud_key", _words("sig=", "signature=", "credential="), r"(?P<keep>[?&](?:sig|X-Amz-Signature|X-Amz-Credential|X-Goog-Signature|Signature)=)"
          r"(?P<secret>[A-Za-z0-9+/%=._-]{16,})", keep=True),
    _rule("cloud_key", _cased("AKIA", "ASIA", "ABIA", "ACCA", "A3T"), r"(?P<secret>\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16})\b"),
    _rule("api_key", Gate(cased=("sk-", "k_live", "k_test", "whsec_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_",
                                      "github_pat", "xox", "xapp-", "AIza", "glpat-", "npm_", "SG.", "shp", "pypi-",
                                      "sq0", "dop_v1", "hf_")),
          r"(?P<secret>\b(?:sk-ant-[A-Za-z0-9_-]{10,}|sk-(?:proj-)?[A-Za-z0-9_-]{20,}"
          r"|[sr]k_(?:live|test)_[A-Za-z0-9]{10,}|pk_live_[A-Za-z0-9]{10,}|whsec_[A-Za-z0-9]{20,}"
          r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}"
          r"|xapp-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35}|glpat-[A-Za-z0-9_-]{20,}|npm_[A-Za-z0-9]{36}"
          r"|SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}|shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}"
          r"|pypi-AgE[A-Za-z0-9_-]{20,}|sq0(?:atp|csp)-[A-Za-z0-9_-]{22,}|dop_v1_[a-f0-9]{64}"
          r"|hf_[A-Za-z0-9]{30,}))\b"),
    # A bot token of Telegram's shape: the bot's number, a colon, 35 characters.
    _rule("api_key", _cased(":AA"), r"(?<!\d)(?P<secret>\d{8,10}:AA[A-Za-z0-9_-]{33})\b"),
    # A lone credential as a URL's user (Sentry DSNs, `https://TOKEN@host`): long, with digits.
    _rule("connection_string", _cased("://"), r"(?i)(?P<keep>\b[a-z][a-z0-9+._-]{1,30}://)(?P<secret>[A-Za-z0-9_~.-]{16,})"
          r"(?=@[\w.-])", keep=True, check=lambda v: any(c.isdigit() for c in v)),
    # 40 characters of base64 with the entropy of random bytes, standing alone: an AWS secret access key.
    _rule("cloud_key", Gate(run_alphabet=_BASE64, run_length=40), r"(?<![A-Za-z0-9/+=])(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])", check=_aws_secret),
    _rule("token", _words("bearer", "basic", "token", "digest"), r"(?i)(?P<keep>\b(?:Bearer|Basic|Token|Digest)\s+)" + _PLACEHOLDER
          + r"(?P<secret>[A-Za-z0-9._~+/=-]{8,})", keep=True, check=_credential_value),
    # Card numbers by their issuers' prefixes and lengths, kept only when the Luhn sum agrees.
    _rule("card_number", Gate(run_alphabet="0123456789", run_length=13, run_skip=" -"), r"(?<![\w.-])(?P<secret>(?:4\d{3}|5[1-5]\d{2}|2[2-7]\d{2}|6(?:011|5\d\d|4[4-9]\d)|35\d\d"
          r"|3[47]\d\d|3(?:0[0-5]|[68]\d)\d)(?:[ -]?\d){9,15})(?![\w-]|\.\d)", check=luhn),
    _rule("password", _words("pass", "pwd"), r"(?i)(?P<keep>\b[A-Za-z0-9_.-]*?(?:password|passwd|pwd)" + _Q + r"\s*[:=]\s*" + _Q + ")"
          + _PLACEHOLDER + _VALUE % 3, keep=True, check=not_code),
    _rule("token", _words("pass", "pwd", "secret", "token", "key", "credential"), _named(_SECRET_NAME, 6), keep=True, check=not_code),
    # A session cookie: its value, in a header or as name=value, whatever the framework calls it.
    _rule("session_cookie", _words("sess", "sid", "remember_token", "csrf", "__host-", "__secure-"), r"(?i)(?P<keep>\b(?:[\w.-]*sess(?:ion)?[\w.-]*|sid|remember_token|csrftoken"
          r"|xsrf-token|_csrf|__Host-[\w-]+|__Secure-[\w-]+)=)" + _PLACEHOLDER
          + r"(?P<secret>[^\s;,\"'&]{8,})", keep=True, check=_credential_value),
    # A wider name (`signing_key`, `license`) only with a value that looks generated.
    _rule("token", _words("key", "sig", "salt", "cookie", "license"), _named(_KEY_NAME, 16), keep=True, check=_generated),
    # An address ends with its top-level domain: a host name glued to more name characters is an identifier
    # (PetShop's node `adoptions@services-database…amazonaws.com_Database::SQL`), not a mailbox, so the
    # match may not stop at an earlier dot of it either.
    _rule("email", _cased("@"), r"(?P<secret>\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"
          r"(?!\.?[\w-])"),
)

IP_RULES: tuple[Rule, ...] = (
    _rule("ip", Gate(run_alphabet="0123456789.", run_length=7), r"(?<!\d\.)(?<!\d)(?P<secret>(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}"
          r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d))(?!\.?\d)"),
    # Full eight-group IPv6, or a compressed form with "::" — never a clock time like 13:58:00.
    _rule("ip", _cased("::", ":"), r"(?<![\w:])(?P<secret>(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}"
          r"|(?:[0-9a-fA-F]{1,4}:){1,6}:(?:[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4}){0,5})?"
          r"|::(?:[0-9a-fA-F]{1,4}:){0,6}[0-9a-fA-F]{1,4})(?![\w:])"),
)

# Every rule's gate at once, for a store that redacts in SQL: lines it does not match hold no secret.
SQL_GATE = "|".join(dict.fromkeys(rule.gate.sql() for rule in RULES))


@dataclass(frozen=True)
class AnyGate:
    """True when at least one of `rules`' gates is: the same tests, merged. A report holds over a thousand
    strings (ids, queries, summaries) and almost none has a secret; twenty gates tried one by one cost a
    quarter second per report, one alternation of their words a few milliseconds."""

    words: re.Pattern[str] | None
    cased: re.Pattern[str] | None
    runs: tuple[Gate, ...]

    @classmethod
    def of(cls, rules: tuple[Rule, ...]) -> AnyGate:
        def alternation(words: list[str]) -> re.Pattern[str] | None:
            return re.compile("|".join(map(re.escape, dict.fromkeys(words)))) if words else None

        gates = [rule.gate for rule in rules]
        runs = {Gate(run_alphabet=g.run_alphabet, run_length=g.run_length, run_skip=g.run_skip)
                for g in gates if g.run_length > 0}
        return cls(alternation([w for g in gates for w in g.words]), alternation([w for g in gates for w in g.cased]),
                   tuple(sorted(runs, key=repr)))

    def __call__(self, text: str, lower: str) -> bool:
        return bool((self.words is not None and self.words.search(lower))
                    or (self.cased is not None and self.cased.search(text))
                    or any(run(text, lower) for run in self.runs))


ANY_GATE = AnyGate.of(RULES)
ANY_GATE_WITH_IPS = AnyGate.of(RULES + IP_RULES)

KINDS = ("private_key", "jwt", "webhook_url", "connection_string", "cloud_key", "api_key", "token",
         "session_cookie", "card_number", "password", "email", "ip")
NAMES = {"private_key": "private key", "jwt": "JWT", "webhook_url": "webhook URL",
         "connection_string": "connection-string credential", "cloud_key": "cloud key", "api_key": "API key",
         "token": "token", "session_cookie": "session cookie", "card_number": "card number",
         "password": "password", "email": "email address", "ip": "IP address"}
