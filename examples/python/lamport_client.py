#!/usr/bin/env python3
"""A client of the original system, Lamport's mutual exclusion over a hash-chained ledger, as
a lamport-ledger node (docs/nodes.md): one JSON object a line on standard input, its effects
on standard output up to a `done` line. Standard library only.

    lamport-ledger run --node-cmd "python3 examples/python/lamport_client.py"

`--bug tiebreak` switches in a classic bug: two requests with the same timestamp both count
as first in the queue, because ties are broken by the timestamp alone and not by client id.
`--bug release-pops-head` makes a RELEASE remove the head of the queue instead of the
sender's request.
"""

import argparse
import hashlib
import json
import sys

GENESIS = "0" * 64


def block_hash(index, prev, ts, sender, receiver, amount):
    """docs/spec.md section 2: SHA-256 of index|prev|ts|from|to|amount."""
    text = f"{index}|{prev}|{ts}|{sender}|{receiver}|{amount}"
    return hashlib.sha256(text.encode()).hexdigest()


class Client:
    def __init__(self, bug):
        self.bug = bug
        self.out = []

    # -- the wire ------------------------------------------------------------------------

    def emit(self, kind, **fields):
        """One effect, stamped with the clock as it stands."""
        self.out.append({"type": kind, "clock": self.clock, **fields})

    def send(self, peer, msg):
        self.emit("send", to=peer, msg=msg)

    def broadcast(self, msg):
        for peer in self.peers():
            self.send(peer, msg)

    def finish_step(self):
        lines = [json.dumps(effect, separators=(",", ":")) for effect in self.out]
        lines.append(json.dumps({"type": "done", "clock": self.clock}, separators=(",", ":")))
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
        self.out = []

    # -- state ---------------------------------------------------------------------------

    def init(self, line):
        self.id = line["id"]
        self.n = line["clients"]
        self.cs_us = line["cs_us"]
        self.balances = list(line["initial_balances"])
        self.clock = 0
        self.queue = set()  # (ts, client id)
        self.largest_seen = {peer: 0 for peer in self.peers()}
        self.served = {peer: 0 for peer in self.peers()}
        self.pending = []  # transfers not yet requested: (to, amount)
        self.phase = "idle"
        self.request_ts = None
        self.transfer = None
        self.block = None
        self.held_back = {}  # index -> block that came ahead of a gap
        self.ledger = []
        for block in line["ledger"]:
            self.append(block)

    def peers(self):
        return [peer for peer in range(1, self.n + 1) if peer != self.id]

    def head(self):
        return self.ledger[-1]["hash"] if self.ledger else GENESIS

    def append(self, block):
        self.ledger.append(block)
        self.balances[block["from"] - 1] -= block["amount"]
        self.balances[block["to"] - 1] += block["amount"]

    # -- inputs --------------------------------------------------------------------------

    def command(self, line):
        if line["command"] == "transfer":
            self.pending.append((line["to"], line["amount"]))
            if self.phase == "idle":
                self.request_next()
        else:
            of = line["of"]
            self.emit("balance", of=of, value=self.balances[of - 1])

    def message(self, line):
        sender, msg = line["from"], line["msg"]
        self.clock = max(self.clock, msg["ts"]) + 1
        self.largest_seen[sender] = max(self.largest_seen[sender], msg["ts"])
        if msg["type"] == "request":
            if msg["ts"] > self.served[sender]:
                self.queue.add((msg["ts"], sender))
            self.send(sender, {"type": "reply", "ts": self.clock})
        elif msg["type"] == "release":
            if self.bug == "release-pops-head":
                if self.queue:
                    self.queue.remove(min(self.queue))
            else:
                self.queue.discard((msg["request_ts"], sender))
            self.served[sender] = max(self.served[sender], msg["request_ts"])
            if msg.get("block") is not None:
                self.accept(sender, msg["block"])
        self.try_enter()

    def timer(self):
        if self.phase == "inside":
            self.release()

    # -- the algorithm -------------------------------------------------------------------

    def request_next(self):
        if not self.pending:
            return
        self.transfer = self.pending.pop(0)
        self.clock += 1
        self.request_ts = self.clock
        self.queue.add((self.request_ts, self.id))
        self.phase = "waiting"
        self.emit("request", ts=self.request_ts)
        self.broadcast({"type": "request", "ts": self.request_ts})
        self.try_enter()

    def first_in_queue(self):
        head = min(self.queue)
        if self.bug == "tiebreak":
            return head[0] == self.request_ts
        return head == (self.request_ts, self.id)

    def try_enter(self):
        if self.phase != "waiting" or not self.first_in_queue():
            return
        if any(self.largest_seen[peer] <= self.request_ts for peer in self.peers()):
            return
        self.phase = "inside"
        self.emit("enter", ts=self.request_ts)
        to, amount = self.transfer
        if self.balances[self.id - 1] >= amount:
            index, prev = len(self.ledger), self.head()
            self.block = {
                "index": index,
                "prev": prev,
                "hash": block_hash(index, prev, self.request_ts, self.id, to, amount),
                "ts": self.request_ts,
                "from": self.id,
                "to": to,
                "amount": amount,
            }
            self.append(self.block)
            self.emit("commit", block=self.block)
        else:
            self.block = None
            self.emit("abort", ts=self.request_ts, amount=amount,
                      balance=self.balances[self.id - 1])
        self.emit("set_timer", after_us=self.cs_us)

    def release(self):
        self.queue.discard((self.request_ts, self.id))
        self.clock += 1
        self.emit("exit", ts=self.request_ts)
        msg = {"type": "release", "ts": self.clock, "request_ts": self.request_ts}
        if self.block is not None:
            msg["block"] = self.block
        self.broadcast(msg)
        self.phase, self.request_ts, self.transfer, self.block = "idle", None, None, None
        self.request_next()

    def accept(self, sender, block):
        """Rule 6: append a block that extends the own ledger; hold one ahead of a gap."""
        index = block["index"]
        if index < len(self.ledger) and self.ledger[index]["hash"] == block["hash"]:
            return
        if index > len(self.ledger):
            self.held_back[index] = (sender, block)
            return
        self.check_and_append(sender, block)
        while len(self.ledger) in self.held_back:
            sender, block = self.held_back.pop(len(self.ledger))
            self.check_and_append(sender, block)

    def check_and_append(self, sender, block):
        recomputed = block_hash(block["index"], block["prev"], block["ts"], block["from"],
                                block["to"], block["amount"])
        if block["index"] != len(self.ledger):
            reason = f"block index {block['index']} but the own ledger has {len(self.ledger)}"
        elif block["prev"] != self.head():
            reason = "block prev does not match the own head"
        elif block["hash"] != recomputed:
            reason = "block hash does not recompute"
        elif self.balances[block["from"] - 1] < block["amount"]:
            reason = "the payer cannot afford it"
        else:
            self.append(block)
            self.emit("apply", block=block)
            return
        self.emit("reject", **{"from": sender}, block=block, reason=reason)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bug", choices=["tiebreak", "release-pops-head"],
                        help="switch in a classic bug")
    args = parser.parse_args()
    client = Client(args.bug)
    for text in sys.stdin:
        line = json.loads(text)
        kind = line["type"]
        if kind == "init":
            client.init(line)
        elif kind == "command":
            client.command(line)
        elif kind == "message":
            client.message(line)
        elif kind == "timer":
            client.timer()
        client.finish_step()


if __name__ == "__main__":
    main()
