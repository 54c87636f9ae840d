#!/usr/bin/env python3
# A toy model for keval's `exec` backend tests, speaking SPEC's JSON-lines protocol. Like the
# mock server it answers the option marked with ★, else option A; for log-likelihood it favours
# continuations holding ★.
#   --crash-after N --crash-flag FILE: the first time (FILE absent) exit with status 3 after N replies
#   --garbage: answer with a line that is not JSON
import json
import os
import sys

args = sys.argv[1:]
crash_after = int(args[args.index("--crash-after") + 1]) if "--crash-after" in args else None
flag = args[args.index("--crash-flag") + 1] if "--crash-flag" in args else None
if crash_after is not None and flag and os.path.exists(flag):
    crash_after = None
garbage = "--garbage" in args


def reply(req):
    if req["type"] == "loglikelihood":
        return {"id": req["id"], "logprobs": [-0.1 if "★" in c else -2.0 - len(c) / 100 for c in req["continuations"]]}
    prompt = req["messages"][-1]["content"]
    answer = "A"
    for line in prompt.split("\n"):
        if len(line) > 3 and line[1:3] == ". " and "★" in line:
            answer = line[0]
    return {"id": req["id"], "text": "정답은 " + answer + "입니다."}


sent = 0
while True:
    line = sys.stdin.readline()
    if not line:
        break
    if garbage:
        print("this is not json", flush=True)
        continue
    print(json.dumps(reply(json.loads(line)), ensure_ascii=False), flush=True)
    sent += 1
    if crash_after is not None and sent >= crash_after:
        open(flag, "w").close()
        sys.exit(3)
