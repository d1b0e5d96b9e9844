"""Providers: email over SMTP (`MOTCUA_SMTP_URL`), SMS and Zalo through HTTP gateways
(`MOTCUA_SMS_WEBHOOK_URL`, `MOTCUA_ZALO_WEBHOOK_URL`).

Every message carries its idempotency key (the email's Message-ID and `X-Motcua-Key`; the gateways'
`Idempotency-Key` header and `key` field), so a message sent again after a crash is recognised as the same.
A gateway's request is signed: `X-Motcua-Signature: sha256=<hex HMAC-SHA256 of the body with the secret>`.
"""

import contextlib
import hashlib
import hmac
import json
import smtplib
import ssl
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

SIGNATURE_HEADER = "X-Motcua-Signature"
KEY_HEADER = "Idempotency-Key"


class SendFailed(Exception):
    """The provider did not take the message. `permanent`: it never will (a refused address, a 4xx);
    otherwise it is tried again later."""

    def __init__(self, answer: str, *, permanent: bool = False) -> None:
        super().__init__(answer)
        self.answer = answer[:1000]
        self.permanent = permanent


@dataclass(frozen=True)
class Outgoing:
    """What a provider needs of a message (its address is personal data: providers never log it)."""

    key: str
    channel: str
    address: str
    subject: str | None
    body: str
    dossier_code: str | None = None


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def message_id(key: str) -> str:
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@motcua>"


class SmtpProvider:
    """Email over SMTP: `smtp://[user:password@]host[:port][?starttls=true]` or `smtps://…` (TLS from the start).
    One connection per dispatcher run, opened at the first message and reopened after an error."""

    def __init__(self, url: str, sender: str, *, timeout: float = 15) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("MOTCUA_SMTP_URL is smtp://[user:password@]host[:port] or smtps://…")
        self.tls = parts.scheme == "smtps"
        self.host, self.port = parts.hostname, parts.port or (465 if self.tls else 25)
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.starttls = parse_qs(parts.query).get("starttls", ["false"])[0].lower() in ("1", "true", "yes")
        self.sender, self.timeout = sender, timeout
        self._local = threading.local()  # one connection per sending thread
        self._opened: list[smtplib.SMTP] = []
        self._lock = threading.Lock()

    @property
    def _smtp(self) -> smtplib.SMTP | None:
        return getattr(self._local, "smtp", None)

    @_smtp.setter
    def _smtp(self, value: smtplib.SMTP | None) -> None:
        self._local.smtp = value

    def _connect(self) -> smtplib.SMTP:
        if self._smtp is None:
            if self.tls:
                context = ssl.create_default_context()
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
            if self.user:
                smtp.login(self.user, self.password or "")
            self._smtp = smtp
            with self._lock:
                self._opened.append(smtp)
        return self._smtp

    def send(self, message: Outgoing) -> str:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.address
        email["Subject"] = message.subject or "motcua"
        email["Date"] = formatdate(localtime=False)
        email["Message-ID"] = message_id(message.key)
        email["X-Motcua-Key"] = message.key
        email.set_content(message.body)
        try:
            refused = self._connect().send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            answers = "; ".join(f"{code} {text.decode(errors='replace')}" for code, text in exc.recipients.values())
            raise SendFailed(f"recipient refused: {answers}", permanent=True) from None
        except smtplib.SMTPResponseException as exc:
            self._drop()
            text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
            raise SendFailed(f"{exc.smtp_code} {text}", permanent=500 <= exc.smtp_code < 600) from None
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise SendFailed(f"SMTP {self.host}:{self.port}: {type(exc).__name__}: {exc}") from None
        if refused:
            raise SendFailed(f"recipient refused: {refused}", permanent=True)
        return "250 accepted"

    def _drop(self) -> None:
        """This thread's connection, closed after an error (the next message opens a new one)."""
        smtp = self._smtp
        if smtp is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.close()
            with self._lock:
                if smtp in self._opened:
                    self._opened.remove(smtp)
            self._smtp = None

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for smtp in opened:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()
        self._local = threading.local()


class WebhookProvider:
    """An SMS or Zalo gateway: one signed JSON POST per message, on a kept-alive connection.

    2xx: sent. 4xx other than 408 and 429: refused for good (the answer is logged). Else: tried again."""

    def __init__(self, url: str, secret: str, channel: str, *, timeout: float = 10) -> None:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"the {channel} gateway URL is http(s)://…")
        self.url, self.secret, self.channel = url, secret, channel
        self._client = httpx.Client(timeout=timeout)

    def send(self, message: Outgoing) -> str:
        body = json.dumps(
            {
                "key": message.key,
                "channel": message.channel,
                "to": message.address,
                "text": message.body,
                "dossier": message.dossier_code,
            },
            ensure_ascii=False,
        ).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            KEY_HEADER: message.key,
            SIGNATURE_HEADER: signature(self.secret, body),
        }
        try:
            response = self._client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise SendFailed(f"{self.channel} gateway: {type(exc).__name__}: {exc}") from None
        answer = f"{response.status_code} {response.text[:500]}".strip()
        if response.is_success:
            return answer
        permanent = 400 <= response.status_code < 500 and response.status_code not in (408, 429)
        raise SendFailed(answer, permanent=permanent)

    def close(self) -> None:
        self._client.close()


class Providers:
    """The providers the settings configure, by channel; a channel without one fails its messages (retried,
    in case it is configured later, then given up)."""

    def __init__(self, by_channel: dict[str, object]) -> None:
        self.by_channel = by_channel

    @classmethod
    def configured(
        cls,
        *,
        smtp_url: str | None,
        smtp_from: str,
        sms_webhook_url: str | None,
        zalo_webhook_url: str | None,
        webhook_secret: str,
    ) -> "Providers":
        found: dict[str, object] = {}
        if smtp_url:
            found["email"] = SmtpProvider(smtp_url, smtp_from)
        if sms_webhook_url:
            found["sms"] = WebhookProvider(sms_webhook_url, webhook_secret, "sms")
        if zalo_webhook_url:
            found["zalo"] = WebhookProvider(zalo_webhook_url, webhook_secret, "zalo")
        return cls(found)

    def send(self, message: Outgoing) -> str:
        provider = self.by_channel.get(message.channel)
        if provider is None:
            setting = {"email": "MOTCUA_SMTP_URL", "sms": "MOTCUA_SMS_WEBHOOK_URL", "zalo": "MOTCUA_ZALO_WEBHOOK_URL"}
            raise SendFailed(f"no {message.channel} provider: set {setting[message.channel]}")
        return provider.send(message)

    def close(self) -> None:
        for provider in self.by_channel.values():
            provider.close()
