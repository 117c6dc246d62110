"""Command line: ``python -m kokoro_nb {train,synthesize,evaluate,inspect,demo,g2p,bench}``.

The same interface is installed as the ``kokoro-nb`` script, and ``python training.py``
(the seed's entry point) is ``train``.

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
)


def _add_train_arguments(p: argparse.ArgumentParser) -> None:
    """The seed's flags (names, short forms, defaults) plus device/preset/precision controls."""
    p.add_argument("--corpus", "-c", default=None,
                   help="corpus directory (default ./ruslan_corpus; if that does not exist, the "
                        "bundled demo corpus)")
    p.add_argument("--output", "-o", default="./kokoro_russian_model",
                   help="output directory (default ./kokoro_russian_model)")
    p.add_argument("--resume", "-r", default=None,
                   help="resume: 'auto' (newest checkpoint in --output) or a .pth path")
    p.add_argument("--batch-size", "-b", type=int, default=8, help="batch size (default 8)")
    p.add_argument("--epochs", "-e", type=int, default=100, help="number of epochs (default 100)")
    p.add_argument("--learning-rate", "-lr", type=float, default=None,
                   help="learning rate (default 1e-4; the demo preset's default is 1e-3)")
    p.add_argument("--save-every", type=int, default=2, help="checkpoint every N epochs (default 2)")
    p.add_argument("--device", default="auto", help="auto (mps > cuda > cpu), mps, cuda or cpu")
    p.add_argument("--preset", default="default", choices=["default", "demo"],
                   help="model size: default (the seed's, hidden 512) or demo (small, CPU)")
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True,
                   help="mixed precision: bf16 on CUDA, fp16 on MPS, off on CPU (default on)")
    p.add_argument("--max-minutes", type=float, default=None,
                   help="stop (with a checkpoint) at the first epoch end after this many minutes")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    p.add_argument("--seed", type=int, default=None, help="random seed (default 1234)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    p.add_argument("--cache-dir", default=None,
                   help="feature cache (default $KOKORO_NB_CACHE or ~/.cache/kokoro_nb/features)")
    p.add_argument("--attention-entropy-weight", type=float, default=None,
                   help="weight of the attention-entropy penalty that sharpens the alignment "
                        "(default: the preset's, 0.02 demo, 0 default)")
    p.add_argument("--attention-entropy-start", type=int, default=300,
                   help="step from which that penalty ramps in, over as many steps again: "
                        "after the alignment has formed (default 300)")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bars (for log files)")


def _cmd_train(args: argparse.Namespace) -> int:
    from .training import Trainer, train_config_from_args

    config = train_config_from_args(
        corpus=args.corpus, output=args.output, batch_size=args.batch_size, epochs=args.epochs,
        learning_rate=args.learning_rate, save_every=args.save_every, preset=args.preset,
        device=args.device, amp=args.amp, max_minutes=args.max_minutes, max_steps=args.max_steps,
        seed=args.seed, threads=args.threads, cache_dir=args.cache_dir,
        attention_entropy_weight=args.attention_entropy_weight,
        attention_entropy_start=args.attention_entropy_start, progress=not args.no_progress)
    trainer = Trainer(config, resume=args.resume)
    trainer.train()
    return 0


def _cmd_synthesize(args: argparse.Namespace) -> int:
    from .synthesis import Synthesizer

    synth = Synthesizer(args.checkpoint, device=args.device if args.device != "auto" else "cpu")
    result = synth.synthesize(args.text)
    synth.save(result, args.out, args.alignment)
    print(f"{args.out}: {result.duration_s:.2f} s, "
          f"{'stopped by itself' if result.stopped else 'hit the step limit'}; "
          f"phonemes /{synth.processor.to_ipa(result.phonemes)}/")
    if args.alignment:
        print(f"{args.alignment}: attention alignment")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluation import evaluate_checkpoint

    result = evaluate_checkpoint(args.checkpoint, args.corpus, limit=args.limit,
                                 device=args.device if args.device != "auto" else "cpu",
                                 cache_dir=args.cache_dir)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        tf, fr = result["teacher_forced"], result["free_running"]
        print(f"{result['items']} items of {result['corpus']}")
        print(f"teacher-forced: focus rate {tf['focus_rate']:.3f}, diagonality "
              f"{tf['diagonality']:.3f}, mel L1 {tf['mel_l1']:.3f}")
        print(f"free-running: {fr['stop_rate']:.0%} stop by themselves; duration ratio median "
              f"{fr['duration_ratio_median']:.2f}; {fr['within_tolerance']:.0%} stop within "
              f"±{fr['tolerance']:.0%} of the reference duration")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    """The whole pipeline on the bundled demo corpus: front end, training, synthesis."""
    from pathlib import Path

    from .course import held_out_sentences
    from .corpus import demo_corpus_dir
    from .synthesis import Synthesizer
    from .text import RussianPhonemeProcessor
    from .training import Trainer, TrainConfig

    processor = RussianPhonemeProcessor(rules=args.rules)
    print("1. The Russian front end (text -> phonemes with stress)\n")
    for sentence in SAMPLE_SENTENCES:
        print(f"  {sentence}")
        for word, phonemes, stress in processor.process_text(sentence):
            print(f"    {word:<14} /{processor.to_ipa(phonemes)}/  "
                  f"stress: syllable {stress.position} ({stress.source})")
    print(f"\n2. Training the demo model on the demo corpus for about {args.minutes:g} minutes "
          f"(run again to continue from the last checkpoint)\n")
    output = Path(args.output)
    config = TrainConfig(corpus=str(demo_corpus_dir()), output=str(output), preset="demo",
                         batch_size=16, epochs=100_000, save_every=5, max_minutes=args.minutes,
                         threads=args.threads, progress=not args.no_progress)
    trainer = Trainer(config, resume="auto")
    trainer.train()
    print("\n3. Speaking a sentence the model has never heard\n")
    synth = Synthesizer.from_parts(trainer.model, trainer.processor, trainer.audio_config)
    text = held_out_sentences()[0]
    result = synth.synthesize(text)
    wav = synth.save(result, output / "demo.wav", output / "demo_alignment.png")
    val = trainer.validate()
    print(f"  text:      {text}")
    print(f"  phonemes:  /{trainer.processor.to_ipa(result.phonemes)}/")
    print(f"  audio:     {wav} ({result.duration_s:.2f} s, "
          f"{'stopped by itself' if result.stopped else 'hit the step limit: train longer'})")
    print(f"  alignment: {output / 'demo_alignment.png'}")
    print(f"  after {trainer.global_step} steps: validation focus rate {val['focus_rate']:.2f}, "
          f"diagonality {val['diagonality']:.2f}")
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

    result = run_bench(only=args.only, device=args.device, presets=args.preset,
                       batch_sizes=args.batch_size, repeats=args.repeats, threads=args.threads)
    print(json.dumps(result, ensure_ascii=False, indent=None if args.json else 2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kokoro-nb", description=__doc__.splitlines()[0])
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train (or resume) a model on a RUSLAN-layout corpus")
    _add_train_arguments(train)
    train.set_defaults(func=_cmd_train)

    synth = sub.add_parser("synthesize", help="text to WAV (and its attention alignment)")
    synth.add_argument("--checkpoint", required=True, help="kokoro_russian_final.pth or a checkpoint")
    synth.add_argument("--text", required=True, help="Russian text")
    synth.add_argument("--out", required=True, help="WAV file to write")
    synth.add_argument("--alignment", default=None, help="PNG file for the attention alignment")
    synth.add_argument("--device", default="cpu", help="cpu (default), cuda or mps")
    synth.set_defaults(func=_cmd_synthesize)

    evaluate = sub.add_parser("evaluate", help="alignment and stopping scores on a corpus")
    evaluate.add_argument("--checkpoint", required=True)
    evaluate.add_argument("--corpus", required=True, help="any RUSLAN-layout corpus")
    evaluate.add_argument("--limit", type=int, default=None, help="first N usable items only")
    evaluate.add_argument("--json", action="store_true")
    evaluate.add_argument("--device", default="cpu")
    evaluate.add_argument("--cache-dir", default=None)
    evaluate.set_defaults(func=_cmd_evaluate)

    demo = sub.add_parser("demo", help="front end, training and synthesis on the bundled demo corpus")
    demo.add_argument("--rules", default="default", help="phoneme rule preset (default|academic)")
    demo.add_argument("--minutes", type=float, default=15.0,
                      help="training time in minutes (default 15; a re-run continues)")
    demo.add_argument("--output", "-o", default="./kokoro_demo_model", help="output directory")
    demo.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    demo.add_argument("--no-progress", action="store_true", help="no tqdm bars")
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
    bench.add_argument("--only", action="append",
                       choices=["g2p", "features", "training", "synthesis", "profile"],
                       default=None, help="run only these sections (repeatable; default: all "
                                          "but profile)")
    bench.add_argument("--device", default="auto", help="auto|cpu|cuda|mps")
    bench.add_argument("--preset", action="append", default=None, choices=["demo", "default"],
                       help="model presets for training/synthesis/profile (repeatable; "
                            "default: demo and default)")
    bench.add_argument("--batch-size", action="append", type=int, default=None,
                       help="training batch sizes (repeatable; default: 8 and 16)")
    bench.add_argument("--repeats", type=int, default=None,
                       help="timed repeats per configuration (default 5)")
    bench.add_argument("--threads", type=int, default=None, help="torch CPU threads")
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
