"""`stae bench`: codecs side by side (and their spread across runs), ROS transport, and the controller benchmark."""

from __future__ import annotations

import argparse
import sys

from .validate import float_in, int_in, kp_point, sizes_in


__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench", help="benchmarks: codecs, ROS transport, controller",
                                   description="Benchmarks against what robots stream today.")
    sub = parser.add_subparsers(dest="bench_command", metavar="BENCH")

    p = sub.add_parser("codecs", help="bytes, accuracy, camera/edge ms and RSS of every method (JSON, Markdown, PNGs)",
                       description="Raw, JPEG, H.264, H.265 and the STAE selections on the synthetic test clips "
                                   "(accuracy, classifier adapted per codec on that codec's decoded train clips) and on "
                                   "real footage (bytes, speed). Timing runs after the accuracy pass, in one-thread "
                                   "child processes, --repeats interleaved runs per point.")
    p.add_argument("--model", default="models/stae_default.pt", help="STAE checkpoint (default: %(default)s, the installed one outside a checkout)")
    p.add_argument("--data", default=None, help="data set root in HMDB51 layout (default: render synthetic clips in memory)")
    p.add_argument("--real-footage", default=None, metavar="DIR", help="folder of videos for bytes/speed (e.g. ../shared/data)")
    p.add_argument("--out", default="out/bench", help="output folder (default: %(default)s)")
    p.add_argument("--tiny", action="store_true", help="tiny run for tests: tiny random model if --model is missing, 1-2 points per method")
    p.add_argument("--repeats", "--repeat", type=int_in(1, 100), default=3, dest="repeats",
                   help="timing runs per point and side, each its own child process, interleaved; reported as "
                        "median ± half-range (default: %(default)s)")
    p.add_argument("--reps-per-clip", type=int_in(1, 1000), default=5,
                   help="samples per clip within one run (at least); the minimum CPU time is kept (default: %(default)s)")
    p.add_argument("--min-run-s", type=float_in(0.0), default=1.5,
                   help="sampling rounds over the clips go on until one run has lasted this long (default: %(default)s)")
    p.add_argument("--min-sample-ms", type=float_in(0.0), default=2.0,
                   help="calls faster than this are repeated back to back within one sample (default: %(default)s)")
    p.add_argument("--probe-tolerance", type=float_in(0.0), default=0.08,
                   help="redo a timing run whose host probe (a fixed workload timed in the same child) was this "
                        "fraction above the median of all runs, i.e. a slow phase of the host hit it; 0 = never "
                        "(default: %(default)s)")
    p.add_argument("--test-per-class", type=int_in(0), default=25,
                   help="test clips per class; 0 = the whole test split (default: %(default)s = the whole synthetic split)")
    p.add_argument("--ft-per-class", type=int_in(0), default=20, help="fine-tuning clips per class, from the train split (default: %(default)s)")
    p.add_argument("--adapt", choices=("full", "head"), default="full",
                   help="classifier adaptation per codec: full = every ViT weight, head = frozen backbone (default: %(default)s)")
    p.add_argument("--adapt-steps", "--ft-steps", type=int_in(0), default=None, dest="adapt_steps",
                   help="adaptation steps per operating point (default: 150 for full, 300 for head)")
    p.add_argument("--adapt-batch", type=int_in(1, 4096), default=16, help="mini-batch of the full adaptation (default: %(default)s)")
    p.add_argument("--timing-clips", type=int_in(1), default=12, help="test clips each timing run measures (default: %(default)s)")
    p.add_argument("--edge-threads", type=int_in(1, 256), default=1, help="CPU threads of the edge-side child (default: %(default)s)")
    p.add_argument("--only", nargs="*", default=[], help="restrict to these families, modes or point names (e.g. h264 stae_fast latent stae-k4-p0.05)")
    p.add_argument("--no-external", action="store_true", help="leave out the stae-roi264 and stae-latent payloads")
    p.add_argument("--external-models", nargs="*", default=[], metavar="PT",
                   help="roi/latent model files to include (name contains 'roi' or 'latent'; default: models/*roi*.pt, models/*latent*.pt)")
    p.add_argument("--summary", default=None, metavar="JSON",
                   help="results summary to merge this data set into (default: results/summary.json; "
                        "OUT/summary.json for --tiny or --only runs)")
    p.add_argument("--local-model", default=None, metavar="PT",
                   help="local classifier (stae_ros.local file) scored on the same test clips as the 'local' point; "
                        "with --fold a {fold} pattern or a cross-validation folder; '' = none (default: the shipped "
                        "models/stae_local_default.pt when it labels the checkpoint's classes; none with --fold)")
    p.add_argument("--fold", default=None, metavar="all|N[,N]",
                   help="cross-validate over the --data folder's fold CSV: every fold's own --model (a pattern with "
                        "{fold}, e.g. runs/weizmann/fold{fold}/model.pt, or the folder `stae train --fold all` wrote) is "
                        "adapted per codec on that fold's training clips and scored on its test clips; accuracy and "
                        "bytes pooled over every test clip")
    p.add_argument("--edge-model", default=None, metavar="PT",
                   help="with --fold: the classifier adapted per codec is this edge model (a stae_ros.local file, e.g. "
                        "from `stae train` with mode: edge; a {fold} pattern or a cross-validation folder) instead of "
                        "the STAE checkpoint's ViT; use --adapt head for a large one on a CPU")
    p.add_argument("--folds-file", default="", metavar="CSV", help="fold CSV clip,class,fold (default: <data>/folds.csv)")
    p.add_argument("--short-clip", choices=("loop", "pad", "resample"), default="loop",
                   help="what a --data video shorter than the clip becomes (default: %(default)s)")
    p.add_argument("--local-short-clip", choices=("loop", "pad", "resample"), default=None,
                   help="the local classifier's own rule for short videos, when it was trained with another one than "
                        "--short-clip (default: --short-clip)")
    p.add_argument("--sweep", choices=("default", "rate"), default="default",
                   help="operating points: default = every codec family and the STAE ablations; rate = libx264 CRFs at "
                        "full, 3/4 and 1/2 size, a few H.265/JPEG points and the STAE method at --stae-points "
                        "(default: %(default)s)")
    p.add_argument("--stae-points", nargs="*", type=kp_point, default=[], metavar="K:p",
                   help="STAE points of the rate sweep, with --sweep rate (default: 16:0.5 16:0.25 16:0.1 16:0.05 8:0.25)")
    p.set_defaults(func=_codecs)

    from stae_ros.bench.summary import register_readme_args, register_summary_args, run_readme, run_summary

    p = sub.add_parser("summary", help="add a `bench codecs` report to the results summary (results/summary.json)",
                       description="Converts a codecs.json report into the results summary's schema and merges it "
                                   "into the summary file (a data set measured again replaces its older entry).")
    register_summary_args(p)
    p.set_defaults(func=run_summary)

    p = sub.add_parser("readme", help="rewrite the README's results table from the results summary",
                       description="Rewrites the block between <!-- results:begin --> and <!-- results:end --> "
                                   "from the summary file; --check only compares.")
    register_readme_args(p)
    p.set_defaults(func=run_readme)

    from stae_ros.bench.summary import register_completion_args, run_completion

    p = sub.add_parser("completion", help="completion time vs uplink rate per data set of the results summary (PNG)",
                       description="For every data set in the summary: each mode's camera time on the target camera "
                                   "(the host's one-thread ms scaled by the presets' rates) + bytes / uplink rate + "
                                   "edge time, and which mode is fastest at each rate, local included.")
    register_completion_args(p)
    p.set_defaults(func=run_completion)

    from stae_ros.bench.summary import register_rates_args, run_rates

    p = sub.add_parser("rates", help="accuracy vs bytes per clip per data set of the results summary (PNG)",
                       description="For every data set in the summary: each mode's points as accuracy against bytes "
                                   "per clip, all on that set's test clips, so each payload reads against libx264.")
    register_rates_args(p)
    p.set_defaults(func=run_rates)

    p = sub.add_parser("compare", help="spread across separate runs of `stae bench codecs` (JSON + Markdown)",
                       description="Reads the codecs.json of two or more runs of the same command and reports, per "
                                   "point, the spread across runs of camera/edge ms, bytes and accuracy, and whether "
                                   "the camera verdicts against x264 agree.")
    p.add_argument("runs", nargs="+", metavar="RUN", help="codecs.json files, or the folders holding them")
    p.add_argument("--out", default=None, help="write compare.json and compare.md into this folder")
    p.add_argument("--tolerance", type=float_in(0.0), default=0.10, help="spread counted as stable (default: %(default)s)")
    p.set_defaults(func=_compare)

    p = sub.add_parser("transport", help="rclpy publish->receive latency/throughput: SemanticClip vs Image vs CompressedImage",
                       description="Two processes on localhost, private ROS_DOMAIN_ID, reliable and best-effort QoS, p50/p99.")
    p.add_argument("--sizes", type=sizes_in(1, 100_000_000), default="5e3,5e4,5e5,2e6,1e7",
                   help="message sizes in bytes, comma-separated, each 1 to 1e8 (default: %(default)s; --tiny: 5e3,5e4)")
    p.add_argument("--messages", type=int_in(1), default=100, help="messages per (type, size, QoS) (default: %(default)s)")
    p.add_argument("--rate", type=float_in(0.0, lo_open=True), default=20.0, help="publish rate in Hz for latency (default: %(default)s)")
    p.add_argument("--domain-id", type=int_in(0, 232), default=None, help="ROS_DOMAIN_ID (default: a private one from the pid)")
    p.add_argument("--out", default="out/bench", help="output folder (default: %(default)s)")
    p.add_argument("--tiny", action="store_true", help="two small sizes, few messages (for tests)")
    p.set_defaults(func=_transport)

    p = sub.add_parser("controller", help="the budget controller under link traces (stae_ros.bench.controller)",
                       description="Benchmark of the planner/controller; see stae_ros.bench.controller.")
    try:
        from stae_ros.bench import controller

        controller.register_args(p)
    except ImportError:
        pass
    p.set_defaults(func=_controller)
    parser.set_defaults(func=lambda args: (parser.print_help(sys.stderr), 2)[1])


def _codecs(args: argparse.Namespace) -> int:
    from stae_ros.bench.codecs import CodecBenchOptions, run_codec_bench
    from stae_ros.bench.report import headline, stability_line, target_line

    if args.stae_points and args.sweep != "rate":
        print("stae bench codecs: --stae-points sets the STAE points of --sweep rate; the default sweep has its own",
              file=sys.stderr)
        return 2

    opts = CodecBenchOptions(model=args.model, data=args.data, real_footage=args.real_footage, out=args.out, tiny=args.tiny,
                             repeats=args.repeats, reps_per_clip=args.reps_per_clip, min_sample_ms=args.min_sample_ms,
                             probe_tolerance=args.probe_tolerance,
                             min_run_s=args.min_run_s,
                             test_per_class=args.test_per_class, ft_per_class=args.ft_per_class, adapt=args.adapt,
                             adapt_steps=args.adapt_steps, adapt_batch=args.adapt_batch,
                             timing_clips=args.timing_clips, edge_threads=args.edge_threads,
                             only=list(args.only), external=not args.no_external,
                             external_models=list(args.external_models), summary=args.summary,
                             local_model=args.local_model, fold=args.fold, folds_file=args.folds_file,
                             short_clip=args.short_clip, sweep=args.sweep, stae_points=list(args.stae_points),
                             edge_model=args.edge_model, local_short_clip=args.local_short_clip)
    from stae_ros.bench.errors import BenchDataError

    try:
        report = run_codec_bench(opts)
    except BenchDataError as exc:
        print(f"stae bench codecs: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}/codecs.json, codecs.md and bench_*.png ({report['wall_s']:.0f} s)")
    print(f"classifier adaptation: {report['finetune']['recipe']}")
    print(stability_line(report).replace("**", ""))
    for line in headline(report):
        print(line)
    if target_line(report):
        print(target_line(report).replace("**", ""))
    for c in report.get("camera_vs_x264", []):
        print(f"camera {c['stae_point']} {c['stae_ms']:.2f} ms vs {c['x264_point']} {c['x264_ms']:.2f} ms "
              f"({c['clips']} clips, 1 thread): {c['winner']}")
    if report.get("summary_written") is False:
        print(f"stae bench codecs: the results summary was not written (the error above); the bench's own outputs "
              f"are in {args.out}", file=sys.stderr)
        return 1
    return 0


def _compare(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from stae_ros.bench.compare import compare_markdown, compare_runs, load_run
    from stae_ros.bench.errors import BenchDataError

    try:
        result = compare_runs([load_run(r) for r in args.runs], tolerance=args.tolerance)
    except BenchDataError as exc:
        print(f"stae bench compare: {exc}", file=sys.stderr)
        return 2
    md = compare_markdown(result)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "compare.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
        (out / "compare.md").write_text(md, encoding="utf-8")
    print("\n".join(md.splitlines()[: 4 + len(result["runs"]) + 4]))
    return 0


def _transport(args: argparse.Namespace) -> int:
    from stae_ros.bench.transport import run_from_args

    return run_from_args(args)


def _controller(args: argparse.Namespace) -> int:
    try:
        from stae_ros.bench import controller
    except ImportError as exc:
        print(f"stae bench controller is not available: {exc}", file=sys.stderr)
        return 2
    return int(controller.run(args) or 0)
