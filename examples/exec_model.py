# A model for `keval run --backend exec --cmd "python3 examples/exec_model.py"`: one JSON request
# a line on stdin, one reply a line on stdout (docs/formats.md, "The exec protocol").
# It answers every question with the first choice label and prefers shorter continuations.
import json, sys

for line in sys.stdin:
    request = json.loads(line)
    if request["type"] == "loglikelihood":
        reply = {"id": request["id"], "logprobs": [-float(len(c)) for c in request["continuations"]]}
    else:
        reply = {"id": request["id"], "text": "정답은 A입니다."}
    print(json.dumps(reply, ensure_ascii=False), flush=True)
