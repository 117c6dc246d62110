"""Command line: ``python -m kokoro_nb {train,synthesize,evaluate,inspect,preprocess,demo,g2p,bench,
train-vocoder,vocode}``.

The same interface is installed as the ``kokoro-nb`` script, and ``python training.py``
(the seed's entry point) is ``train``.

The training flags are generated from `TrainConfig` (its fields, help texts and defaults):
every field with help is a flag. Subcommands import what they need when they run, so
``--help`` stays fast (the configs import no torch).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import types
import typing

from .config import MODEL_PRESETS, PRESET_TRAINING, TrainConfig, VocoderTrainConfig

SAMPLE_SENTENCES = (
    "Привет, как дела?",
    "Сегодня хорошая погода, и мы пойдём гулять в парк.",
)


def add_config_arguments(parser: argparse.ArgumentParser, config_class: type) -> None:
    """One flag per field of `config_class` that has command-line help (`config.setting`):
    ``--batch-size`` for ``batch_size``, its short form, type, help and default all taken
    from the dataclass. Flags not given stay out of the parsed namespace, so the config's
    own default applies (see `config_from_args`)."""
    hints = typing.get_type_hints(config_class)
    for spec in dataclasses.fields(config_class):
        if not spec.metadata.get("cli"):
            continue
        names = [f"--{spec.name.replace('_', '-')}"] + [spec.metadata["short"]] * bool(
            spec.metadata.get("short"))
        kind = _without_none(hints[spec.name])
        options = {"dest": spec.name, "default": argparse.SUPPRESS,
                   "help": spec.metadata["help"] + _default_text(spec)}
        if kind is bool:
            options["action"] = argparse.BooleanOptionalAction
        elif typing.get_origin(kind) is tuple:
            options |= {"type": typing.get_args(kind)[0], "nargs": len(typing.get_args(kind))}
        else:
            options["type"] = kind
        if spec.metadata.get("choices"):
            options["choices"] = spec.metadata["choices"]
        parser.add_argument(*names, **options)


def _without_none(hint):
    """`int` for ``int | None``; other types as they are."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        (kind,) = [t for t in typing.get_args(hint) if t is not type(None)]
        return kind
    return hint


def _default_text(spec: dataclasses.Field) -> str:
    default = spec.default if spec.default is not dataclasses.MISSING else spec.default_factory()
    if default is None and spec.name in PRESET_TRAINING["default"]:
        values = ", ".join(f"{preset} {table[spec.name]:g}" for preset, table in PRESET_TRAINING.items())
        return f" (default: the preset's, {values})"
    if isinstance(default, bool):
        return f" (default: {'on' if default else 'off'})"
    if isinstance(default, tuple):
        return " (default: " + " ".join(map(str, default)) + ")"
    if isinstance(default, float) and len(str(default)) > 8:
        return f" (default: {default:.4g})"  # 1/45 -> 0.02222
    return "" if default is None else f" (default: {default})"


def given_settings(config_class: type, args: argparse.Namespace) -> dict:
    """The fields of `config_class` given on the command line (flags not given are absent)."""
    names = {spec.name for spec in dataclasses.fields(config_class)}
    return {k: v for k, v in vars(args).items() if k in names}


def config_from_args(config_class: type, args: argparse.Namespace):
    """The config with the fields given on the command line, defaults for the rest."""
    return config_class(**given_settings(config_class, args))


def _cmd_train(args: argparse.Namespace) -> int:
    from .training import Trainer

    # A resume keeps the checkpoint's settings; only the flags given here change them.
    given = given_settings(TrainConfig, args)
    trainer = Trainer(TrainConfig(**given), resume=args.resume, explicit=set(given))
    try:
        trainer.train()
    finally:
        trainer.ranks.close()  # under torchrun: leave the process group
    return 0


def _cmd_synthesize(args: argparse.Namespace) -> int:
    from .synthesis import Synthesizer

    synth = Synthesizer(args.checkpoint, device=args.device if args.device != "auto" else "cpu",
                        vocoder=args.vocoder)
    result = synth.synthesize(args.text)
    synth.save(result, args.out, args.alignment)
    print(f"{args.out}: {result.duration_s:.2f} s, "
          f"{'stopped by itself' if result.stopped else 'hit the step limit'}; "
          f"phonemes /{synth.processor.to_ipa(result.phonemes)}/")
    if args.alignment:
        print(f"{args.alignment}: attention alignment")
    return 0


def _cmd_train_vocoder(args: argparse.Namespace) -> int:
    from .vocoder_training import train_vocoder

    config = config_from_args(VocoderTrainConfig, args)
    path = train_vocoder(config, resume=args.resume, progress=not args.no_progress)
    print(f"{path}: the vocoder (synthesize --vocoder {path})")
    return 0


def _cmd_vocode(args: argparse.Namespace) -> int:
    from .audio import load_audio, mel_spectrogram, write_audio
    from .config import AudioConfig
    from .vocoder import load_vocoder, vocode_mel

    neural = args.vocoder != "griffin-lim"
    vocoder = load_vocoder(args.vocoder, args.device) if neural else None
    audio = vocoder.audio if neural else AudioConfig()
    wave, _ = load_audio(args.wav, audio, trim=False)
    out = vocode_mel(mel_spectrogram(wave, audio), audio, vocoder)
    write_audio(args.out, out, audio.sample_rate)
    print(f"{args.out}: {out.shape[-1] / audio.sample_rate:.2f} s "
          f"({'the neural vocoder' if neural else 'Griffin-Lim'})")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluation import audio_quality, evaluate_checkpoint

    device = args.device if args.device != "auto" else "cpu"
    if args.checkpoint is None and not args.audio_quality:
        raise ValueError("evaluate needs --checkpoint (or --audio-quality for copy synthesis)")
    result = {}
    if args.checkpoint is not None:
        result = evaluate_checkpoint(args.checkpoint, args.corpus, limit=args.limit,
                                     device=device, cache_dir=args.cache_dir,
                                     validation_split=args.validation_split)
    if args.audio_quality:
        result["audio_quality"] = audio_quality(
            args.corpus, args.checkpoint, args.vocoder, limit=args.limit,
            griffin_lim_power=args.griffin_lim_power, device=device)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    if "audio_quality" in result:
        for rung, scores in result["audio_quality"]["rungs"].items():
            print(f"{rung:<16} " + ", ".join(f"{k} {v:.3f}" for k, v in scores.items()))
    if args.checkpoint is not None:
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

    from .course import demo_train_config, held_out_sentences
    from .synthesis import Synthesizer
    from .text import RussianPhonemeProcessor
    from .training import Trainer

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
    config = demo_train_config(output, save_every=5, max_minutes=args.minutes,
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


def _cmd_preprocess(args: argparse.Namespace) -> int:
    from .corpus import preprocess_corpus, resolve_corpus_dir

    # A corpus that is not there is a CorpusError, which `main` reports.
    summary = preprocess_corpus(resolve_corpus_dir(args.corpus), cache_dir=args.cache_dir,
                                workers=args.workers, progress=not args.json)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        issues = ", ".join(f"{k}: {v}" for k, v in sorted(summary["issue_counts"].items()))
        print(f"{summary['corpus']}: {summary['usable_items']} usable items of "
              f"{summary['metadata_lines']} metadata lines, {summary['skipped_items']} skipped"
              f"{f' ({issues})' if issues else ''}")
        print(f"features in {summary['cache_dir']}: {summary.get('features_computed', 0)} "
              f"computed, {summary.get('features_cached', 0)} already cached; "
              f"{summary.get('items_checked', 0)} items checked (the others' checks were "
              f"cached); {summary['seconds']:.1f} s with {summary.get('workers', 1)} worker(s)")
    return 0 if summary["usable"] else 1


def _cmd_bench(args: argparse.Namespace) -> int:
    from .bench import run_bench

    from .distributed import Ranks, launched_by_torchrun

    if (args.compare_ref or args.checkpoint_attention) and not args.shape:
        raise ValueError("--compare-ref and --checkpoint-attention go with --shape")
    if launched_by_torchrun() and (args.only != ["training"] or args.shape):
        raise ValueError("under torchrun the bench runs --only training (on demo-corpus "
                         "clips, without --shape): every rank steps, global frames/s reported")
    result = run_bench(only=args.only, device=args.device, presets=args.preset,
                       batch_sizes=args.batch_size, repeats=args.repeats, threads=args.threads,
                       shape=args.shape, compare_ref=args.compare_ref,
                       checkpoint_attention=args.checkpoint_attention)
    ranks = Ranks.from_environment()
    if ranks.is_main:
        print(json.dumps(result, ensure_ascii=False, indent=None if args.json else 2))
    ranks.close()
    return 0


def _add_train(sub) -> None:
    train = sub.add_parser("train", help="train (or resume) a model on a RUSLAN-layout corpus")
    train.add_argument("--resume", "-r", default=None,
                       help="resume: 'auto' (newest checkpoint in --output) or a .pth path")
    add_config_arguments(train, TrainConfig)
    train.set_defaults(func=_cmd_train)


def _add_synthesize(sub) -> None:
    synth = sub.add_parser("synthesize", help="text to WAV (and its attention alignment)")
    synth.add_argument("--checkpoint", required=True, help="kokoro_russian_final.pth or a checkpoint")
    synth.add_argument("--text", required=True, help="Russian text")
    synth.add_argument("--out", required=True, help="WAV file to write")
    synth.add_argument("--alignment", default=None, help="PNG file for the attention alignment")
    synth.add_argument("--device", default="cpu", help="cpu (default), cuda or mps")
    synth.add_argument("--vocoder", default=None,
                       help="vocoder_final.pth of train-vocoder (default: Griffin-Lim)")
    synth.set_defaults(func=_cmd_synthesize)


def _add_train_vocoder(sub) -> None:
    train = sub.add_parser("train-vocoder", help="train the neural vocoder on a corpus's "
                                                  "recordings")
    add_config_arguments(train, VocoderTrainConfig)
    train.add_argument("--resume", "-r", default=None,
                       help="'auto' (newest vocoder_step_N.pth in --output) or a .pth path")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.set_defaults(func=_cmd_train_vocoder)


def _add_vocode(sub) -> None:
    vocode = sub.add_parser("vocode", help="copy synthesis: a recording's mel back to audio")
    vocode.add_argument("--vocoder", required=True,
                        help="vocoder_final.pth of train-vocoder, or griffin-lim")
    vocode.add_argument("--wav", required=True, help="audio file in")
    vocode.add_argument("--out", required=True, help="WAV file to write")
    vocode.add_argument("--device", default="cpu")
    vocode.set_defaults(func=_cmd_vocode)


def _add_evaluate(sub) -> None:
    evaluate = sub.add_parser("evaluate", help="alignment and stopping scores on a corpus")
    evaluate.add_argument("--checkpoint", default=None,
                          help="the acoustic model (needed unless only --audio-quality)")
    evaluate.add_argument("--corpus", required=True, help="any RUSLAN-layout corpus")
    evaluate.add_argument("--limit", type=int, default=None, help="first N usable items only")
    evaluate.add_argument("--validation-split", action="store_true",
                          help="only the corpus's validation split: on the corpus the model "
                               "was trained on, the items training never saw")
    evaluate.add_argument("--json", action="store_true")
    evaluate.add_argument("--device", default="cpu")
    evaluate.add_argument("--cache-dir", default=None)
    evaluate.add_argument("--audio-quality", action="store_true",
                          help="also listen: MCD with DTW, and DNSMOS and STOI with the quality "
                               "extra, for Griffin-Lim and --vocoder of the recordings' mels "
                               "and of the model's own")
    evaluate.add_argument("--vocoder", default=None, help="vocoder_final.pth for --audio-quality")
    evaluate.add_argument("--griffin-lim-power", type=float, default=None,
                          help="Griffin-Lim's magnitude power for --audio-quality "
                               "(default: the model's audio config)")
    evaluate.set_defaults(func=_cmd_evaluate)


def _add_demo(sub) -> None:
    demo = sub.add_parser("demo", help="front end, training and synthesis on the bundled demo corpus")
    demo.add_argument("--rules", default="default", help="phoneme rule preset (default|seed|academic)")
    demo.add_argument("--minutes", type=float, default=15.0,
                      help="training time in minutes (default 15; a re-run continues)")
    demo.add_argument("--output", "-o", default="./kokoro_demo_model", help="output directory")
    demo.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    demo.add_argument("--no-progress", action="store_true", help="no tqdm bars")
    demo.set_defaults(func=_cmd_demo)


def _add_g2p(sub) -> None:
    g2p = sub.add_parser("g2p", help="print phonemes and stress for Russian text")
    g2p.add_argument("text", nargs="*", help="text (read from stdin when omitted)")
    g2p.add_argument("--rules", default="default", help="phoneme rule preset (default|seed|academic)")
    g2p.add_argument("--stress-dict", default=None, help="TSV stress dictionary (word<TAB>syllable)")
    g2p.add_argument("--json", action="store_true", help="print JSON")
    g2p.set_defaults(func=_cmd_g2p)


def _add_inspect(sub) -> None:
    inspect = sub.add_parser("inspect", help="validate a corpus and print its report")
    inspect.add_argument("--corpus", "-c", default=None,
                         help="corpus directory (default ./ruslan_corpus, else the bundled demo)")
    inspect.add_argument("--json", action="store_true", help="print the report as JSON")
    inspect.add_argument("--quick", action="store_true",
                         help="read audio headers only (faster; misses silent/truncated clips)")
    inspect.add_argument("--max-issues", type=int, default=50, help="issues listed in the text report")
    inspect.set_defaults(func=_cmd_inspect)


def _add_preprocess(sub) -> None:
    pre = sub.add_parser("preprocess", help="validate a corpus and compute its features into the "
                                            "feature cache ahead of training")
    pre.add_argument("--corpus", "-c", default=None,
                     help="corpus directory (default ./ruslan_corpus, else the bundled demo)")
    pre.add_argument("--workers", type=int, default=None,
                     help="worker processes (default: one per CPU; 1: in this process)")
    pre.add_argument("--cache-dir", default=None,
                     help="feature cache (default $KOKORO_NB_CACHE or ~/.cache/kokoro_nb/features, "
                          "where training looks)")
    pre.add_argument("--json", action="store_true", help="print the summary as JSON")
    pre.set_defaults(func=_cmd_preprocess)


def _add_bench(sub) -> None:
    from .bench import SECTIONS

    bench = sub.add_parser("bench", help="measure speed; prints one JSON document")
    bench.add_argument("--only", action="append", choices=SECTIONS, default=None,
                       help="run only these sections (repeatable; default: all but profile)")
    bench.add_argument("--device", default="auto", help="auto|cpu|cuda|mps")
    bench.add_argument("--preset", action="append", default=None, choices=sorted(MODEL_PRESETS),
                       help="model presets for training/synthesis/profile (repeatable; "
                            "default: all)")
    bench.add_argument("--batch-size", action="append", type=int, default=None,
                       help="training batch sizes (repeatable; default: 8 and 16)")
    bench.add_argument("--repeats", type=int, default=None,
                       help="timed repeats per configuration (default 5)")
    bench.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    bench.add_argument("--shape", default=None,
                       help="training on a synthetic batch of PHONEMESxFRAMES (e.g. 100x400), "
                            "all full length, 1 thread unless --threads (default preset "
                            "default, batch 8)")
    bench.add_argument("--compare-ref", default=None,
                       help="with --shape: measure this git revision too, with the same code, "
                            "alternating, and report the ratios")
    bench.add_argument("--checkpoint-attention", action="store_true",
                       help="with --shape: recompute the attention in backward (less memory)")
    bench.add_argument("--json", action="store_true", help="compact JSON on one line")
    bench.set_defaults(func=_cmd_bench)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kokoro-nb", description=__doc__.splitlines()[0])
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_train, _add_synthesize, _add_evaluate, _add_demo, _add_g2p, _add_inspect,
                _add_preprocess, _add_bench, _add_train_vocoder, _add_vocode):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.INFO))
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
