#!/usr/bin/env python3
"""LogicKor's score.py, with the standard library only, as the oracle for keval's LogicKor figures.

Reproduces instructkr/LogicKor score.py at commit 11c3a84f93d176754f1ce197a8f00961cffa9de2: every
row's query_single.judge_score and query_multi.judge_score (an answer the judge could not score
holds 0.0, as evaluator.py writes it after its five attempts) are averaged per category and over
all rows; Overall is the mean of the Single turn and Multi turn means. score.py adds each score
to the totals twice (once per row, once per category), which leaves the means unchanged; it is
done the same way here. Prints score.py's table, then one JSON line with the unrounded figures.

Usage: logickor_score.py EVALUATED.jsonl
"""
import json
import sys


def main(path):
    category_scores = {}
    total_single_scores = []
    total_multi_scores = []
    with open(path, encoding="utf-8-sig") as f:
        for line in f:
            if not line.strip():
                continue
            item = json.loads(line)
            category = item["category"]
            single_score = item["query_single"]["judge_score"]
            multi_score = item["query_multi"]["judge_score"]
            if category not in category_scores:
                category_scores[category] = {"single_scores": [], "multi_scores": []}
            category_scores[category]["single_scores"].append(single_score)
            category_scores[category]["multi_scores"].append(multi_score)
            total_single_scores.append(single_score)
            total_multi_scores.append(multi_score)

    figures = {"categories": {}}
    print("| Category | Single turn | Multi turn |\n|---|---|---|")
    for category, scores in category_scores.items():
        avg_single = sum(scores["single_scores"]) / len(scores["single_scores"])
        avg_multi = sum(scores["multi_scores"]) / len(scores["multi_scores"])
        print(f"| {category} | {avg_single:.2f} | {avg_multi:.2f} |")
        figures["categories"][category] = {"single": avg_single, "multi": avg_multi}
        total_single_scores.extend(scores["single_scores"])
        total_multi_scores.extend(scores["multi_scores"])

    avg_total_single = sum(total_single_scores) / len(total_single_scores)
    avg_total_multi = sum(total_multi_scores) / len(total_multi_scores)
    avg_total = (avg_total_single + avg_total_multi) / 2
    print("\n| Category | Score |\n|---|---|")
    print(f"| Single turn | {avg_total_single:.2f} |")
    print(f"| Multi turn | {avg_total_multi:.2f} |")
    print(f"| Overall | {avg_total:.2f} |")
    figures.update({"single": avg_total_single, "multi": avg_total_multi, "overall": avg_total})
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
