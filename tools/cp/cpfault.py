# SPDX-License-Identifier: GPL-2.0
"""cpfault - injected faults of the reference control plane (test-only
admin API, POST /admin/v1/fault): what is pending, and the faulty answers
to the assignments API (a mixin of nanami-cp's request handler)."""
import threading
import time

class Fault:
    """Faults injected into the gateway API responses (admin, tests)."""

    MODES = ("none", "500", "slow", "malformed", "truncated", "dupkey",
             "deep", "oversized", "hang")
    # The identity endpoints: answer 500, a garbage body with the success
    # status, headers then nothing (hang), no answer at all (nothing), or a
    # forced refusal; with "apply" the request is carried out first, so the
    # gateway loses the answer to a change that happened.
    IDENT_TARGETS = ("enroll", "rotate", "renew")
    IDENT_MODES = ("none", "500", "malformed", "hang", "nothing", "401", "403", "409")

    def __init__(self):
        self.lock = threading.Lock()
        self.mode = "none"
        self.target = "assignments"
        self.count = 0          # 0 = until cleared
        self.apply = False

    def set(self, mode, target, count, apply=False):
        with self.lock:
            self.mode, self.target, self.count = mode, target, count
            self.apply = apply

    def take(self, target):
        """The fault for one response to target ("assignments"/"events"),
        or (mode, apply) for an identity target."""
        with self.lock:
            ident = target in self.IDENT_TARGETS
            # "all" covers the assignments API only: identity faults are
            # always asked for by name.
            if self.mode == "none" or \
                    self.target not in ((target,) if ident else ("all", target)):
                return ("none", False) if ident else "none"
            mode = self.mode
            if self.count > 0:
                self.count -= 1
                if self.count == 0:
                    self.mode = "none"
            return (mode, self.apply) if ident else mode


class FaultyAnswers:
    """The assignments API's faulty answers (a mixin of the handler)."""

    def faulty(self, fault, body):
        if fault == "500":
            return self.error(500, "injected fault")
        if fault == "malformed":
            body = body.replace(b":", b"", 1)   # '{"api_version" "v1", ...
        elif fault == "dupkey":
            body = b'{"generation": 1, ' + body[1:]
        elif fault == "deep":
            body = b"[" * 100000 + b"]" * 100000
        self.close_connection = True
        if fault == "oversized":
            return self.oversized()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if fault == "truncated":
            self.wfile.write(body[:len(body) // 2])
        elif fault == "slow":
            # 1 byte/s until the client gives up (or we are stopped).
            for b in body:
                if self.cp.stopping:
                    break
                self.wfile.write(bytes([b]))
                self.wfile.flush()
                time.sleep(1)
        elif fault == "hang":
            end = time.time() + 600
            while not self.cp.stopping and time.time() < end:
                time.sleep(0.2)
        else:
            self.wfile.write(body)

    def oversized(self):
        """A chunked body (no Content-Length) far over any sane cap."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        chunk = b" " * 65536
        self.wfile.write(b'1\r\n{\r\n')
        for _ in range(self.cp.args.oversize_mb * 16):
            if self.cp.stopping:
                return
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"1\r\n}\r\n0\r\n\r\n")
