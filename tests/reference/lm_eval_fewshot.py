#!/usr/bin/env python3
"""The log-likelihood requests lm-evaluation-harness builds for KoBEST and KMMLU, few-shot included.

An independent re-implementation (Python 3 standard library only, so it runs where lm-eval is not installed) of
EleutherAI/lm-evaluation-harness at commit 4e7e0d47f33bc71070c1d38394bafbb52b117163:
  lm_eval/evaluator.py          task_obj.set_fewshot_seed(seed=fewshot_random_seed), default 1234
  lm_eval/api/task.py           set_fewshot_seed -> sampler.set_rnd(seed) = random.Random(seed);
                                build_all_requests: docs in order (first `limit`), fewshot_context each;
                                fewshot_context: sampler.sample(n, eval_doc=doc if fewshot split ==
                                test split else None), each example build_qa_turn(q, c, a,
                                tgt_delim=" ", few_delim="\\n\\n"), then the doc's own q with no
                                delimiter; doc_to_target: a feature name -> doc[name], a template
                                rendering digits -> int; build_qa_turn answer c[a] for an int a;
                                construct_requests: (ctx, target_delimiter + choice) per choice
  lm_eval/api/samplers.py       ContextSampler.sample: rnd.sample(list(df), n), or n + 1 and the
                                eval doc removed ([x for x in ... if x != doc][:n])
  lm_eval/config/task.py        target_delimiter " ", fewshot_delimiter "\\n\\n"; fewshot split
                                None unless set (KoBEST: fewshot_docs() falls back to train)
  lm_eval/tasks/kobest/*.yaml, kobest/utils.py, lm_eval/tasks/kmmlu/default/_default_kmmlu_yaml
The documents are read from keval's copies of the source files (datasets/), field names mapped to
those of the Hugging Face copies lm-eval loads (skt/kobest_v1, HAERAE-HUB/KMMLU); TSV cells are
taken as they are (quote characters are text).

usage: lm_eval_fewshot.py NUM_FEWSHOT SEED NAME KIND EVAL_FILE FEWSHOT_FILE LIMIT [NAME KIND ...]
KIND: kobest_boolq | kobest_copa | kobest_hellaswag | kobest_sentineg | kobest_wic | kmmlu
Each NAME is a task evaluated on its own (its own generator). Prints one JSON object a line:
{"task": NAME, "index": i, "context": "...", "continuations": ["...", ...]}.
"""
import csv
import json
import random
import sys


def read_tsv(path):
    # Lines end in "\r\n" or "\n"; blank lines hold no row.
    with open(path, encoding="utf-8-sig", newline="") as f:
        lines = [line[:-1] if line.endswith("\r") else line for line in f.read().split("\n")]
    lines = [line for line in lines if line]
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:]]


def read_csv(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def bool_label(value):
    return {"False": 0, "FALSE": 0, "True": 1, "TRUE": 1}[value.strip()]


# Each task: (doc from a source row, doc_to_text, doc_to_choice, doc_to_target), as lm-eval's
# yaml and utils.py define them.
def kobest_boolq():
    def doc(r):
        return {"paragraph": r["Text"], "question": r["Question"], "label": bool_label(r["Answer"])}
    return doc, lambda d: f"{d['paragraph']} 질문: {d['question']} 답변: ", lambda d: ["아니오", "예"], lambda d: d["label"]


def kobest_copa():
    def doc(r):
        return {"premise": r["sentence"], "question": r["question"], "alternative_1": r["1"],
                "alternative_2": r["2"], "label": int(r["Answer"]) - 1}

    def text(d):  # utils.copa_doc_to_text
        connector = {"원인": " 왜냐하면", "결과": " 그래서"}[d["question"].strip()]
        return f"""{d["premise"]} {connector}"""

    def target(d):  # utils.copa_doc_to_target: the right alternative's text
        return d["alternative_1"] if d["label"] == 0 else d["alternative_2"]
    return doc, text, lambda d: [d["alternative_1"], d["alternative_2"]], target


def kobest_hellaswag():
    def doc(r):  # utils.hellaswag_process_doc adds query, choices and gold to the row
        d = {"context": r["context"], "ending_1": r["choice1"], "ending_2": r["choice2"],
             "ending_3": r["choice3"], "ending_4": r["choice4"], "label": int(r["label"])}
        d.update({"query": f"""문장: {d["context"]}""",
                  "choices": [d["ending_1"], d["ending_2"], d["ending_3"], d["ending_4"]], "gold": int(d["label"])})
        return d
    return doc, lambda d: d["query"], lambda d: d["choices"], lambda d: d["label"]


def kobest_sentineg():
    def doc(r):
        return {"sentence": r["Text"], "label": int(r["Label"])}
    return doc, lambda d: f"""문장: {d["sentence"]} 긍부정:""", lambda d: ["부정", "긍정"], lambda d: d["label"]


def kobest_wic():
    def doc(r):
        return {"word": r["Target"], "context_1": r["SENTENCE1"], "context_2": r["SENTENCE2"],
                "label": bool_label(r["ANSWER"])}

    def text(d):
        return f"""문장1: {d["context_1"]} 문장2: {d["context_2"]} 두 문장에서 {d["word"]}가 같은 뜻으로 쓰였나?"""
    return doc, text, lambda d: ["아니오", "예"], lambda d: d["label"]


def kmmlu():
    def doc(r):
        return {"question": r["question"], "answer": int(r["answer"]), "A": r["A"], "B": r["B"], "C": r["C"], "D": r["D"]}

    def text(d):  # "{{question.strip()}}\nA. {{A}}\nB. {{B}}\nC. {{C}}\nD. {{D}}\n정답："
        return f"{d['question'].strip()}\nA. {d['A']}\nB. {d['B']}\nC. {d['C']}\nD. {d['D']}\n정답："
    # doc_to_target "{{answer-1}}" renders digits, so lm-eval turns it into an int index.
    return doc, text, lambda d: ["A", "B", "C", "D"], lambda d: d["answer"] - 1


TASKS = {"kobest_boolq": kobest_boolq, "kobest_copa": kobest_copa, "kobest_hellaswag": kobest_hellaswag,
         "kobest_sentineg": kobest_sentineg, "kobest_wic": kobest_wic, "kmmlu": kmmlu}


def requests(name, task, eval_file, fewshot_file, num_fewshot, limit, seed):
    make_doc, doc_to_text, doc_to_choice, doc_to_target = TASKS[task]()
    read = read_csv if task == "kmmlu" else read_tsv
    eval_docs = [make_doc(r) for r in read(eval_file)]
    fewshot_docs = [make_doc(r) for r in read(fewshot_file)]
    rnd = random.Random(seed)  # set_fewshot_seed: one generator per task
    same_split = eval_file == fewshot_file
    for index, doc in enumerate(eval_docs[:limit]):
        context = ""
        if num_fewshot > 0:
            if same_split:
                examples = [x for x in rnd.sample(list(fewshot_docs), num_fewshot + 1) if x != doc][:num_fewshot]
            else:
                examples = rnd.sample(list(fewshot_docs), num_fewshot)
            for example in examples:
                choices, answer = doc_to_choice(example), doc_to_target(example)
                answer_text = choices[answer] if isinstance(answer, int) else answer
                context += doc_to_text(example) + " " + answer_text + "\n\n"
        context += doc_to_text(doc)
        print(json.dumps({"task": name, "index": index, "context": context,
                          "continuations": [" " + c for c in doc_to_choice(doc)]}, ensure_ascii=False))


def main(argv):
    num_fewshot, seed, rest = int(argv[1]), int(argv[2]), argv[3:]
    for i in range(0, len(rest), 5):
        name, task, eval_file, fewshot_file, limit = rest[i:i + 5]
        requests(name, task, eval_file, fewshot_file, num_fewshot, int(limit), seed)


if __name__ == "__main__":
    main(sys.argv)
