#!/usr/bin/env python3
# A real SMTP client (Python smtplib) and a raw-socket LMTP/pipelining client for the SMTP
# integration tests: runs one scenario and prints {step: [code, text]} as JSON; asserts nothing.
# Usage: smtp_client.py SCENARIO HOST PORT [ARG]   (HOST "unix:" + path for a unix socket)
import json
import smtplib
import socket
import sys
import time

SENDER = "sam@news.example"
DESK = "requests@desk.example"


def message(subject, body="We are looking for someone to speak about the asylum system.\r\n"):
    return (f"From: Sam Example <{SENDER}>\r\nTo: {DESK}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{time.time_ns()}@news.example>\r\n\r\n{body}")


def text(reply):
    code, msg = reply
    return [code, msg.decode("utf-8", "replace") if isinstance(msg, bytes) else str(msg)]


def data(smtp, msg):
    try:
        return text(smtp.data(msg))
    except smtplib.SMTPDataError as e:
        return text((e.smtp_code, e.smtp_error))


def send(host, port, arg):
    """One message to the desk: EHLO, MAIL, RCPT, DATA, QUIT."""
    out = {}
    with smtplib.SMTP(host, port, timeout=20) as s:
        out["ehlo"] = text(s.ehlo("client.example"))
        out["mail"] = text(s.mail(SENDER))
        out["rcpt"] = text(s.rcpt(DESK))
        out["data"] = data(s, message(arg or "Request by SMTP"))
        out["quit"] = text(s.quit())
    return out


def big(host, port, size):
    """One message of about SIZE bytes (sealed off the I/O threads past 1 MiB)."""
    line = "y" * 98 + "\r\n"
    with smtplib.SMTP(host, port, timeout=60) as s:
        s.ehlo("client.example")
        s.mail(SENDER, [f"SIZE={int(size) + 200}"])
        s.rcpt(DESK)
        return {"data": data(s, message("Big", line * (int(size) // len(line))))}


def session(host, port, max_bytes):
    """Every command of one long SMTP session, with its replies."""
    max_bytes = int(max_bytes)
    out = {}
    s = smtplib.SMTP(host, port, timeout=20)
    out["ehlo"] = text(s.ehlo("client.example"))
    out["features"] = [0, json.dumps(s.esmtp_features)]
    out["noop"] = text(s.noop())
    out["vrfy"] = text(s.verify(DESK))
    out["expn"] = text(s.docmd("EXPN", "staff"))
    out["unknown"] = text(s.docmd("FROB"))
    out["starttls"] = text(s.docmd("STARTTLS"))
    out["rcpt_before_mail"] = text(s.rcpt(DESK))
    out["mail_size_too_big"] = text(s.mail(SENDER, [f"SIZE={max_bytes + 1}"]))
    out["mail_bad_syntax"] = text(s.docmd("MAIL", "FROM <nobody>"))
    # Several recipients, two refused: the message is still taken for the two accepted.
    out["mail"] = text(s.mail(SENDER, ["SIZE=1000", "BODY=8BITMIME"]))
    out["rcpt_desk"] = text(s.rcpt(DESK))
    out["rcpt_foreign"] = text(s.rcpt("someone@evil.example"))
    out["rcpt_suffix_trick"] = text(s.rcpt("requests@desk.example.evil.com"))
    out["rcpt_desk_2"] = text(s.rcpt("press@desk.example"))
    # smtplib dot-stuffs the line starting with a dot; the server must unstuff it.
    out["data"] = data(s, message("Multi-recipient", "First line\r\n.leading dot\r\nLast line\r\n"))
    # Too big: read to the end, then 552; the session stays usable.
    out["big_mail"] = text(s.mail(SENDER))
    out["big_rcpt"] = text(s.rcpt(DESK))
    out["big_data"] = data(s, message("Too big", ("x" * 76 + "\r\n") * (max_bytes // 78 + 100)))
    out["rset"] = text(s.rset())
    out["after_mail"] = text(s.mail(SENDER))
    out["after_rcpt"] = text(s.rcpt(DESK))
    out["after_data"] = data(s, message("After the big one"))
    out["quit"] = text(s.quit())
    return out


def connect(host, port):
    if host.startswith("unix:"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(host[5:])
    else:
        sock = socket.create_connection((host, int(port)))
    sock.settimeout(20)
    return sock


class raw_client:
    """Line-level client: for LMTP's several replies after DATA, and real pipelining."""

    def __init__(self, host, port):
        self.sock = connect(host, port)
        self.buffer = b""

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def reply(self):
        """One whole (possibly multi-line) reply: [code, text]."""
        lines = []
        while True:
            while b"\r\n" not in self.buffer:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return [0, "connection closed: " + " | ".join(lines)]
                self.buffer += chunk
            line, self.buffer = self.buffer.split(b"\r\n", 1)
            line = line.decode("utf-8", "replace")
            lines.append(line[4:])
            if len(line) < 4 or line[3] != "-":
                return [int(line[:3]), "\n".join(lines)]


def lmtp(host, port, arg):
    """LMTP: LHLO, three recipients (one refused), DATA, one reply per accepted recipient."""
    c = raw_client(host, port)
    out = {"greeting": c.reply()}
    c.send("EHLO client.example\r\n")
    out["ehlo"] = c.reply()
    c.send("LHLO mta.example\r\n")
    out["lhlo"] = c.reply()
    c.send(f"MAIL FROM:<{SENDER}>\r\n")
    out["mail"] = c.reply()
    c.send(f"RCPT TO:<{DESK}>\r\n")
    out["rcpt_1"] = c.reply()
    c.send("RCPT TO:<nobody@evil.example>\r\n")
    out["rcpt_foreign"] = c.reply()
    c.send("RCPT TO:<press@desk.example>\r\n")
    out["rcpt_2"] = c.reply()
    c.send("DATA\r\n")
    out["data"] = c.reply()
    c.send(message("Request by LMTP") + ".\r\n")
    out["data_1"] = c.reply()
    out["data_2"] = c.reply()
    c.send("QUIT\r\n")
    out["quit"] = c.reply()
    return out


def pipelining(host, port, arg):
    """MAIL, RCPT, RCPT, DATA in one write (RFC 2920), bare-LF line ends in the body."""
    c = raw_client(host, port)
    out = {"greeting": c.reply()}
    c.send("EHLO client.example\r\n")
    out["ehlo"] = c.reply()
    c.send(f"MAIL FROM:<>\r\nRCPT TO:<{DESK}>\r\nRCPT TO:<x@elsewhere.example>\r\nDATA\r\n")
    out["mail"] = c.reply()
    out["rcpt"] = c.reply()
    out["rcpt_foreign"] = c.reply()
    out["data"] = c.reply()
    # The end of data split over two writes, and a message with bare LF line ends.
    c.send("Subject: pipelined\n\nbare LF body\n..stuffed\n.")
    time.sleep(0.2)
    c.send("\r\nQUIT\r\n")
    out["data_end"] = c.reply()
    out["quit"] = c.reply()
    return out


def idle(host, port, arg):
    """Says EHLO, then waits without a word: the server's idle timeout answers 421 4.4.2."""
    c = raw_client(host, port)
    out = {"greeting": c.reply()}
    c.send("EHLO client.example\r\n")
    out["ehlo"] = c.reply()
    started = time.monotonic()
    out["timeout"] = c.reply()
    out["waited_ms"] = [0, str(int((time.monotonic() - started) * 1000))]
    return out


def crowd(host, port, arg):
    """Opens ARG connections and one more: the one over the cap is answered 421 4.3.2."""
    held = [raw_client(host, port) for _ in range(int(arg))]
    out = {f"greeting_{i}": c.reply() for i, c in enumerate(held)}
    extra = raw_client(host, port)
    out["over_cap"] = extra.reply()
    return out


def shutdown(host, port, arg):
    """Two connections while the server stops: an idle one (421 4.3.2 at once) and one in the
    middle of DATA, which may finish its message (250) before its 421."""
    idle_c = raw_client(host, port)
    busy = raw_client(host, port)
    out = {"idle_greeting": idle_c.reply(), "busy_greeting": busy.reply()}
    idle_c.send("EHLO idle.example\r\n")
    out["idle_ehlo"] = idle_c.reply()
    busy.send(f"EHLO busy.example\r\nMAIL FROM:<{SENDER}>\r\nRCPT TO:<{DESK}>\r\nDATA\r\n")
    for step in ("busy_ehlo", "busy_mail", "busy_rcpt", "busy_data"):
        out[step] = busy.reply()
    busy.send(message("Sent while stopping"))
    print("ready", flush=True)  # the test now sends SIGTERM to the server
    out["idle_after_stop"] = idle_c.reply()
    time.sleep(0.5)
    busy.send(".\r\n")
    out["busy_data_end"] = busy.reply()
    out["busy_after"] = busy.reply()
    return out


def envelope_sender(raw):
    """The envelope sender for a message file: its Return-Path ("" for <>), else its From address,
    else a relay's. Looks only at the header block, byte by byte (the file may be malformed)."""
    head = raw
    for end in (b"\n\n", b"\n\r\n"):
        if end in head:
            head = head[:head.index(end)]
    fields = {}
    for line in head.split(b"\n"):
        name, colon, value = line.partition(b":")
        if colon and name.strip().lower() in (b"return-path", b"from") and name.strip().lower() not in fields:
            fields[name.strip().lower()] = value.strip()
    if b"return-path" in fields:
        value = fields[b"return-path"]
        if value.startswith(b"<") and b">" in value:
            return value[1:value.index(b">")].decode("ascii", "replace")
    value = fields.get(b"from", b"")
    if b"<" in value and b">" in value[value.index(b"<"):]:
        value = value[value.rindex(b"<") + 1:]
        value = value[:value.index(b">")]
    if b"@" in value and b" " not in value.strip() and value.isascii():
        return value.strip().decode("ascii")
    return "relay@mta.example"


def file(host, port, path):
    """One message file sent as it is (raw socket: no smtplib line-end fixing): MAIL FROM its
    envelope sender, the bytes dot-stuffed, then the end of data. Bare LF line ends and stray CRs
    or NULs go out unchanged."""
    with open(path, "rb") as f:
        raw = f.read()
    c = raw_client(host, port)
    out = {"greeting": c.reply()}
    c.send("EHLO client.example\r\n")
    out["ehlo"] = c.reply()
    c.send(f"MAIL FROM:<{envelope_sender(raw)}>\r\n")
    out["mail"] = c.reply()
    c.send(f"RCPT TO:<{DESK}>\r\n")
    out["rcpt"] = c.reply()
    c.send("DATA\r\n")
    out["start_data"] = c.reply()
    stuffed = b"\n".join(b"." + line if line.startswith(b".") else line for line in raw.split(b"\n"))
    c.send(stuffed + (b".\r\n" if stuffed.endswith(b"\n") else b"\r\n.\r\n"))
    out["data"] = c.reply()
    c.send("QUIT\r\n")
    out["quit"] = c.reply()
    return out


if __name__ == "__main__":
    scenario, host, port = sys.argv[1:4]
    arg = sys.argv[4] if len(sys.argv) > 4 else ""
    result = globals()[scenario](host, int(port) if port.isdigit() else port, arg)
    print(json.dumps(result), flush=True)
