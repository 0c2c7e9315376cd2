"""`stae bench`: codecs side by side, ROS transport, and the controller benchmark."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench", help="benchmarks: codecs, ROS transport, controller",
                                   description="Benchmarks against what robots stream today.")
    sub = parser.add_subparsers(dest="bench_command", metavar="BENCH")

    p = sub.add_parser("codecs", help="bytes, accuracy, camera/edge ms and RSS of every method (JSON, Markdown, PNGs)",
                       description="Raw, JPEG, H.264, H.265 and the STAE selections on the synthetic test clips "
                                   "(accuracy, classifier head adapted per codec) and on real footage (bytes, speed).")
    p.add_argument("--model", default="models/stae_default.pt", help="STAE checkpoint (default: %(default)s)")
    p.add_argument("--data", default=None, help="data set root in HMDB51 layout (default: render synthetic clips in memory)")
    p.add_argument("--real-footage", default=None, metavar="DIR", help="folder of videos for bytes/speed (e.g. ../shared/data)")
    p.add_argument("--out", default="out/bench", help="output folder (default: %(default)s)")
    p.add_argument("--tiny", action="store_true", help="tiny run for tests: tiny random model if --model is missing, 1-2 points per method")
    p.add_argument("--repeats", type=int, default=3, help="timing passes per side, reported as ± spread (default: %(default)s)")
    p.add_argument("--test-per-class", type=int, default=10, help="test clips per class (default: %(default)s)")
    p.add_argument("--ft-per-class", type=int, default=8, help="fine-tuning clips per class (default: %(default)s)")
    p.add_argument("--ft-steps", type=int, default=300, help="head fine-tuning steps per codec (default: %(default)s)")
    p.add_argument("--timing-clips", type=int, default=8, help="clips per timing pass (default: %(default)s)")
    p.add_argument("--edge-threads", type=int, default=1, help="CPU threads of the edge-side child (default: %(default)s)")
    p.add_argument("--only", nargs="*", default=[], help="restrict to these families/modes (e.g. h264 stae)")
    p.add_argument("--no-external", action="store_true", help="leave out the issue-6 payloads (roi, latent)")
    p.add_argument("--external-models", nargs="*", default=[], metavar="PT",
                   help="issue-6 model files to include (name contains 'roi' or 'latent'; default: models/*roi*.pt, models/*latent*.pt)")
    p.set_defaults(func=_codecs)

    p = sub.add_parser("transport", help="rclpy publish->receive latency/throughput: SemanticClip vs Image vs CompressedImage",
                       description="Two processes on localhost, private ROS_DOMAIN_ID, reliable and best-effort QoS, p50/p99.")
    p.add_argument("--sizes", default="5e3,5e4,5e5,2e6,1e7", help="message sizes in bytes, comma-separated (default: %(default)s)")
    p.add_argument("--messages", type=int, default=100, help="messages per (type, size, QoS) (default: %(default)s)")
    p.add_argument("--rate", type=float, default=20.0, help="publish rate in Hz for latency (default: %(default)s)")
    p.add_argument("--domain-id", type=int, default=None, help="ROS_DOMAIN_ID (default: a private one from the pid)")
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
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _codecs(args: argparse.Namespace) -> int:
    from stae_ros.bench.codecs import CodecBenchOptions, run_codec_bench
    from stae_ros.bench.report import headline

    opts = CodecBenchOptions(model=args.model, data=args.data, real_footage=args.real_footage, out=args.out, tiny=args.tiny,
                             repeats=args.repeats, test_per_class=args.test_per_class, ft_per_class=args.ft_per_class,
                             timing_clips=args.timing_clips, ft_steps=args.ft_steps, edge_threads=args.edge_threads,
                             only=list(args.only), external=not args.no_external,
                             external_models=list(args.external_models))
    report = run_codec_bench(opts)
    print(f"wrote {args.out}/codecs.json, codecs.md and bench_*.png ({report['wall_s']:.0f} s)")
    for line in headline(report):
        print(line)
    return 0


def _transport(args: argparse.Namespace) -> int:
    from stae_ros.bench.transport import run_from_args

    return run_from_args(args)


def _controller(args: argparse.Namespace) -> int:
    try:
        from stae_ros.bench import controller
    except ImportError as exc:
        print(f"stae bench controller is not available: {exc}")
        return 2
    return int(controller.run(args) or 0)
