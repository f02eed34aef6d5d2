"""The verdict and the figures of `make model-check` (scripts/model-check.sh).

    python3 report.py --runs runs.tsv --scorecard OUT.json --requests requests.jsonl \
                      --server-log server.log
    python3 report.py --one scorecard.json --eval-status N     (a one-line summary of one case)

runs.tsv has one line per case: its file id, the eval's exit status (or `skipped`), seconds,
its scorecard and its output. The scorecards are merged into OUT.json (the shape of
`heimdell eval --json`).

Judges safety and robustness only, never the small model's skill:
  - no eval may crash: exit status 0 or 1 (1 = violations, as each suite's threshold is 0),
    no panic in its output, a scorecard written;
  - no scorecard may hold a violation;
  - at least one request to the model must have been answered (otherwise the check proved
    nothing: the server was unreachable or refused everything).
Then prints, from the server's own reports:
  - per request (requests.jsonl, written by proxy.py): `usage.prompt_tokens` and
    `completion_tokens` as the server answered them, latency, status;
  - per request (server.log, llama-cpp-python --verbose): how many prompt tokens the server
    reused from its prefix cache ("Llama.generate: N prefix-match hit, remaining M prompt
    tokens to eval") and how many it evaluated anew (llama.cpp's "prompt eval time");
  - whether a thread's second turn processed fewer than 1,000 new prompt tokens (reported, not
    enforced yet).
Exit status 0 when the check passes, 1 when it does not.
"""

import argparse
import json
import re
import statistics
import sys
from collections import Counter

ACCESS = re.compile(r'"POST /v1/chat/completions[^"]*" (\d{3})')
PREFIX = re.compile(r"Llama\.generate: (\d+) prefix-match hit, remaining (\d+) prompt tokens to eval")
FULL_CACHED = re.compile(r"Llama\.generate: full prompt already cached")
PROMPT_EVAL = re.compile(r"prompt eval time =\s*([\d.]+) ms /\s*(\d+) tokens")
SECOND_TURN_LIMIT = 1000


def spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    return f"min {min(values)}, median {statistics.median(values):g}, max {max(values)} (n={len(values)})"


def load_requests(path):
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        pass
    except OSError:
        pass
    out.sort(key=lambda r: r.get("n", 0))
    return out


def parse_server_log(path):
    """One entry per POST /v1/chat/completions, in order, with the model calls the server made
    for it (llama-cpp-python's chat handlers may call the model more than once per request):
    for each, the prompt tokens reused from the prefix cache and the tokens evaluated anew
    (llama.cpp's "prompt eval time = … / N tokens", one line per call)."""
    segments, calls, errors = [], [], []
    try:
        lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
    except OSError:
        return segments
    reused = 0
    for line in lines:
        m = PREFIX.search(line)
        if m:
            reused = int(m.group(1))
            continue
        if FULL_CACHED.search(line):
            reused = None  # the whole prompt: filled in from the request's usage
            continue
        m = PROMPT_EVAL.search(line)
        if m:
            calls.append({"reused": reused, "evaluated": int(m.group(2))})
            reused = 0
            continue
        m = ACCESS.search(line)
        if m:
            segments.append({"status": int(m.group(1)), "calls": calls, "errors": errors})
            calls, errors, reused = [], [], 0
            continue
        if line.startswith(("Traceback", "Exception", "ValueError", "RuntimeError", "Fatal Python error")):
            errors.append(line.strip()[:200])
    return segments


def turn_errors(card):
    """The turns that failed (the Copilot answered with an error), by message."""
    errs = Counter()
    for run in card.get("failures") or []:
        for step in run.get("steps") or []:
            if not isinstance(step, dict):
                continue
            # A chat turn ("rep says: …") the Copilot answered with an error.
            if step.get("outcome") == "failed" and " says" in str(step.get("label", "")):
                for w in step.get("warnings") or ["(no message)"]:
                    errs[re.sub(r"\d+", "N", str(w))[:160]] += 1
    return errs


def one_line(path, status):
    try:
        with open(path, encoding="utf-8") as f:
            card = json.load(f)
    except (OSError, ValueError):
        return f"no scorecard, eval exit status {status}: CRASH"
    v = len(card.get("violations") or [])
    word = "passed" if card.get("passed") else "failed"
    verdict = "ok" if status in (0, 1) and not v else ("CRASH" if status not in (0, 1) else "VIOLATION")
    errs = sum(turn_errors(card).values())
    return f"{verdict}: case {word}, {v} violation(s), {errs} turn(s) ended in an error"


def merge(runs):
    """The per-case scorecards as one, and the problems found on the way."""
    problems = []
    merged = {"suite": "heimdell-model-check", "model": None, "cases": 0, "passed": 0, "failed": 0,
              "pass_rate": 0.0, "threshold": 0.0, "repeat": 1, "by_category": {}, "violations": [],
              "pass_hat_k": {}, "failures": [], "seconds": 0.0, "skipped": []}
    for run in runs:
        case, status = run["case"], run["status"]
        if status == "skipped":
            merged["skipped"].append(case)
            continue
        status = int(status)
        log = ""
        try:
            log = open(run["log"], encoding="utf-8", errors="replace").read()
        except OSError:
            pass
        if "panicked at" in log:
            problems.append(f"{case}: the eval panicked: " + log[log.index("panicked at"):].splitlines()[0][:200])
        if status not in (0, 1):
            problems.append(f"{case}: the eval exited with status {status} (a crash; output {run['log']})")
        try:
            with open(run["scorecard"], encoding="utf-8") as f:
                card = json.load(f)
        except (OSError, ValueError):
            if status in (0, 1):
                problems.append(f"{case}: the eval wrote no scorecard (output {run['log']})")
            continue
        if status == 1 and not card.get("violations"):
            problems.append(f"{case}: the eval exited 1 without a violation: it stopped on an error")
        merged["model"] = card.get("model")
        for k in ("cases", "passed", "failed"):
            merged[k] += card.get(k) or 0
        merged["seconds"] += card.get("seconds") or 0
        merged["violations"] += card.get("violations") or []
        merged["failures"] += card.get("failures") or []
        for cat, t in (card.get("by_category") or {}).items():
            m = merged["by_category"].setdefault(cat, {"cases": 0, "passed": 0, "failed": 0})
            for k in m:
                m[k] += t.get(k) or 0
    if merged["cases"]:
        merged["pass_rate"] = merged["passed"] / merged["cases"]
        merged["pass_hat_k"] = {"1": merged["pass_rate"]}
    return merged, problems


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--one")
    p.add_argument("--eval-status", type=int)
    p.add_argument("--runs")
    p.add_argument("--scorecard")
    p.add_argument("--requests")
    p.add_argument("--server-log")
    a = p.parse_args()
    if a.one:
        print(one_line(a.one, a.eval_status))
        return 0

    runs = []
    with open(a.runs, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 5:
                runs.append(dict(zip(("case", "status", "seconds", "scorecard", "log"), parts)))
    card, problems = merge(runs)
    with open(a.scorecard, "w", encoding="utf-8") as f:
        json.dump(card, f, indent=2)

    print()
    print("== model-check: safety and robustness ==")
    requests = load_requests(a.requests)
    ran = [r for r in runs if r["status"] != "skipped"]
    print(f"cases run: {len(ran)} of {len(runs)}" + (f" (not started, out of time: {', '.join(card['skipped'])})" if card["skipped"] else ""))
    for r in ran:
        print(f"  {r['case']:<45} {r['seconds']:>5} s  {one_line(r['scorecard'], int(r['status']))}")
    print(
        f"cases {card['cases']}, passed {card['passed']}, failed {card['failed']}, "
        f"pass rate {100 * card['pass_rate']:.1f}% (not judged), model {card['model']}, {card['seconds']:.0f} s"
    )
    for cat, t in card["by_category"].items():
        print(f"  {cat:<18} {t['cases']:>3} case(s), {t['passed']:>3} passed")
    print(f"violations: {len(card['violations'])}")
    for v in card["violations"]:
        print(f"  {v.get('rule')} in {v.get('case')} step {v.get('step')}: {v.get('detail')}")
    if card["violations"]:
        problems.append(f"{len(card['violations'])} safety violation(s)")
    errs = turn_errors(card)
    if errs:
        print(f"turns that ended in an error: {sum(errs.values())}")
        for msg, n in errs.most_common(8):
            print(f"  {n} x {msg}")
    if not ran:
        problems.append("no case ran")
    elif not [r for r in requests if r.get("status") == 200]:
        problems.append("no request to the model was answered: the check proved nothing")
    print()
    print("== the model server's own figures ==")
    chat = [r for r in requests]
    statuses = Counter(r.get("status") for r in chat)
    print(f"chat-completion requests: {len(chat)} ({', '.join(f'HTTP {k}: {v}' for k, v in sorted(statuses.items(), key=str))})")
    for r in chat:
        if r.get("status") != 200 and r.get("error"):
            print(f"  request {r['n']}: HTTP {r.get('status')}: {str(r.get('error'))[:200]}")
            break
    ok = [r for r in chat if r.get("status") == 200]
    print("latency per request (s):      " + spread([r.get("seconds") for r in ok]))
    prompt = [(r.get("usage") or {}).get("prompt_tokens") for r in ok]
    print("usage.prompt_tokens:          " + spread(prompt))
    print("usage.completion_tokens:      " + spread([(r.get("usage") or {}).get("completion_tokens") for r in ok]))
    first_turn = [
        (r.get("usage") or {}).get("prompt_tokens") for r in ok if r.get("user_turns") == 1 and not r.get("follow_up")
    ]
    print("  first call of a first turn: " + spread(first_turn))
    if ok:
        r0 = ok[0]
        print(
            f"  shape of a request: {r0.get('tools')} tools offered, {r0.get('system_messages')} system "
            f"message(s), {r0.get('request_bytes')} bytes of JSON"
        )
    tool_calls = Counter(t for r in ok for t in r.get("tool_calls") or [])
    finish = Counter(r.get("finish_reason") for r in ok)
    print(f"finish reasons: {dict(finish)}; tool calls the model made: {dict(tool_calls) or 'none'}")

    segments = parse_server_log(a.server_log)
    print()
    if len(segments) != len(chat):
        print(
            f"(server log has {len(segments)} chat requests, the proxy recorded {len(chat)}: "
            "cache figures are matched in order and may be off)"
        )
    rows = []
    for i, r in enumerate(chat):
        seg = segments[i] if i < len(segments) else None
        row = {"n": r.get("n"), "status": r.get("status"), "prompt": (r.get("usage") or {}).get("prompt_tokens"),
               "user_turns": r.get("user_turns"), "follow_up": r.get("follow_up"), "seconds": r.get("seconds")}
        if seg and seg["calls"]:
            first = seg["calls"][0]
            row["calls"] = len(seg["calls"])
            row["new"] = first["evaluated"]
            if first["reused"] is None:
                row["reused"] = max(0, (row["prompt"] or 0) - first["evaluated"])
            else:
                row["reused"] = first["reused"]
            row["later_calls_new"] = sum(c["evaluated"] for c in seg["calls"][1:])
            row["server_errors"] = seg["errors"]
        rows.append(row)
    measured = [x for x in rows if x.get("new") is not None and x.get("status") == 200]
    print("prefix cache (the server's 'prefix-match hit' lines), first model call of each request:")
    print("  reused prompt tokens:       " + spread([x["reused"] for x in measured]))
    print("  newly evaluated tokens:     " + spread([x["new"] for x in measured]))
    tot_prompt = sum(x["reused"] + x["new"] for x in measured)
    if tot_prompt:
        print(f"  reuse overall: {sum(x['reused'] for x in measured)} of {tot_prompt} prompt tokens "
              f"({100 * sum(x['reused'] for x in measured) / tot_prompt:.0f}%)")
    print("request  turn  follow-up  prompt  reused     new  seconds")
    for x in rows[:60]:
        print(
            f"{x['n']:>7} {x.get('user_turns') or '-':>5} {('yes' if x.get('follow_up') else 'no'):>10} "
            f"{x.get('prompt') if x.get('prompt') is not None else '-':>7} {x.get('reused', '-'):>7} "
            f"{x.get('new', '-'):>7} {x.get('seconds') or '-':>8}"
        )
    if len(rows) > 60:
        print(f"  ... {len(rows) - 60} more in the logs")

    second = [x for x in measured if x.get("user_turns") == 2 and not x.get("follow_up")]
    print()
    if second:
        held = [x for x in second if x["new"] < SECOND_TURN_LIMIT]
        print(
            f"second turn of a thread, new prompt tokens: {spread([x['new'] for x in second])}; "
            f"under {SECOND_TURN_LIMIT}: {len(held)} of {len(second)} -> "
            f"{'HELD' if len(held) == len(second) else 'NOT HELD'} (issue 11's target; reported, not enforced)"
        )
    else:
        print("second turn of a thread: none measured (no request with two user turns got an answer)")

    print()
    if problems:
        print("model-check: FAILED")
        for pr in problems:
            print(f"  - {pr}")
        return 1
    print("model-check: passed (no safety violation, no crash; the pass rate is not judged)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
