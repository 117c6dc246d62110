"""Command line: ``python -m kokoro_nb {demo,g2p,inspect,bench}`` (also the ``kokoro-nb`` script).

Subcommands import what they need when they run, so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

SAMPLE_SENTENCES = (
    "Привет, как дела?",
    "Сегодня хорошая погода, и мы пойдём гулять в парк.",
    "В 1812 году армия Наполеона вошла в Москву.",
    "Ты читал эту книгу? Конечно, ещё в школе!",
    "Здравствуйте! Говорите, пожалуйста, по-русски.",
)


def _cmd_demo(args: argparse.Namespace) -> int:
    from .text import RussianPhonemeProcessor

    processor = RussianPhonemeProcessor(rules=args.rules)
    print(f"{processor!r}\n")
    for sentence in SAMPLE_SENTENCES:
        print(sentence)
        for word, phonemes, stress in processor.process_text(sentence):
            print(f"  {word:<14} /{processor.to_ipa(phonemes)}/  "
                  f"stress: syllable {stress.position} ({stress.source})")
        ids = processor.text_to_indices(sentence)
        print(f"  model input: {len(ids)} ids, first ten {ids[:10]}\n")
    return 0


def _cmd_g2p(args: argparse.Namespace) -> int:
    from .text import RussianPhonemeProcessor

    processor = RussianPhonemeProcessor(stress_dict_path=args.stress_dict, rules=args.rules)
    text = " ".join(args.text) if args.text else sys.stdin.read()
    if args.json:
        rows = [
            {"word": w, "ipa": processor.to_ipa(p), "phonemes": p, "stress": s.position,
             "source": s.source}
            for w, p, s in processor.process_text(text)
        ]
        print(json.dumps({"words": rows, "ipa": processor.text_to_ipa(text),
                          "ids": processor.text_to_indices(text)}, ensure_ascii=False, indent=2))
    else:
        for word, phonemes, stress in processor.process_text(text):
            print(f"{word}\t{processor.to_ipa(phonemes)}\t{stress.position}\t{stress.source}")
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from .config import AudioConfig
    from .corpus import CorpusError, resolve_corpus_dir, validate_corpus

    try:
        corpus = resolve_corpus_dir(args.corpus)
    except CorpusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    report = validate_corpus(corpus, AudioConfig(), read_audio_data=not args.quick,
                             progress=not args.json)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(report.summary(max_issues=args.max_issues))
    return 0 if report.usable else 1


def _cmd_bench(args: argparse.Namespace) -> int:
    from .bench import run_bench

    result = run_bench(only=args.only, device=args.device)
    print(json.dumps(result, ensure_ascii=False, indent=None if args.json else 2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kokoro-nb", description=__doc__.splitlines()[0])
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="show the pipeline on the bundled data")
    demo.add_argument("--rules", default="default", help="phoneme rule preset (default|academic)")
    demo.set_defaults(func=_cmd_demo)

    g2p = sub.add_parser("g2p", help="print phonemes and stress for Russian text")
    g2p.add_argument("text", nargs="*", help="text (read from stdin when omitted)")
    g2p.add_argument("--rules", default="default", help="phoneme rule preset (default|academic)")
    g2p.add_argument("--stress-dict", default=None, help="TSV stress dictionary (word<TAB>syllable)")
    g2p.add_argument("--json", action="store_true", help="print JSON")
    g2p.set_defaults(func=_cmd_g2p)

    inspect = sub.add_parser("inspect", help="validate a corpus and print its report")
    inspect.add_argument("--corpus", "-c", default=None,
                         help="corpus directory (default ./ruslan_corpus, else the bundled demo)")
    inspect.add_argument("--json", action="store_true", help="print the report as JSON")
    inspect.add_argument("--quick", action="store_true",
                         help="read audio headers only (faster; misses silent/truncated clips)")
    inspect.add_argument("--max-issues", type=int, default=50, help="issues listed in the text report")
    inspect.set_defaults(func=_cmd_inspect)

    bench = sub.add_parser("bench", help="measure speed; prints one JSON document")
    bench.add_argument("--only", action="append", choices=["g2p", "features"], default=None,
                       help="run only these sections (repeatable)")
    bench.add_argument("--device", default="auto", help="auto|cpu|cuda|mps")
    bench.add_argument("--json", action="store_true", help="compact JSON on one line")
    bench.set_defaults(func=_cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.INFO))
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
