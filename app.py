"""`python app.py`: the NASDet Studio GUI (Gradio) on 127.0.0.1:7860 by default.

Starts a background worker if none is alive and, on a fresh home folder, queues the built-in
`shapes-demo` dataset. Binding another address without --auth prints a warning.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys

LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python app.py", description="NASDet Studio GUI")
    p.add_argument("--home", help="home folder (default: $NASDET_HOME or ./nasdet_data)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--auth", metavar="USER:PASS", help="require this login")
    p.add_argument("--share", action="store_true", help="create a public gradio.live link")
    p.add_argument(
        "--demo-preset",
        help="Guided demo settings from assets/presets.json "
        "(default, tiny; default $NASDET_DEMO_PRESET or 'default')",
    )
    p.add_argument(
        "--import-root",
        action="append",
        dest="import_roots",
        metavar="DIR",
        help="folder under which datasets may be imported by path (repeatable; "
        "default $NASDET_IMPORT_ROOTS or the home folder)",
    )
    p.add_argument("--max-upload-mb", type=int, default=512, help="largest upload (MB)")
    p.add_argument("--no-worker", action="store_true", help="do not start a background worker")
    return p.parse_args(argv)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_auth(auth: str | None) -> tuple[str, str] | None:
    if not auth:
        return None
    user, sep, password = auth.partition(":")
    if not sep or not user or not password:
        raise SystemExit("error: --auth must be USER:PASS (both non-empty)")
    return user, password


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    auth = parse_auth(args.auth)
    if not auth and (args.share or not is_loopback(args.host)):
        print(
            f"WARNING: serving on {'a public share link' if args.share else args.host} without "
            "--auth USER:PASS: anyone who can reach it can run jobs and read your data.",
            file=sys.stderr,
        )
    return serve(args, auth)


def serve(args: argparse.Namespace, auth: tuple[str, str] | None) -> int:
    """Prepare the home (worker, first-start dataset) and serve the app until stopped."""

    from core.app.jobs import Store, after_app, ensure_worker
    from core.errors import NasdetError
    from nasdet_gui.app import build_app, first_start
    from nasdet_gui.config import make_config

    try:
        store = Store(args.home)
        config = make_config(store.home, args.demo_preset, args.import_roots, args.max_upload_mb)
        job = first_start(store, config)
        if job:
            print(f"queued job {job}: generating the built-in shapes-demo dataset", file=sys.stderr)
        if not args.no_worker:
            ensure_worker(store.home, "auto")
    except (NasdetError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    demo = build_app(config, store)
    demo.queue(default_concurrency_limit=4)
    try:
        _launch(demo, args, auth, config)
    finally:
        note = after_app(store)
        if note:
            print(note, file=sys.stderr)
    return 0


def _launch(demo, args: argparse.Namespace, auth, config) -> None:
    """Serve until stopped (Ctrl-C); no allowed_paths: no home file is served by path."""
    from nasdet_gui.app import css, theme, translations
    from nasdet_gui.body_limit import launch_kwargs

    demo.launch(
        server_name=args.host,
        server_port=args.port,
        auth=auth,
        share=args.share,
        max_file_size=f"{config.max_upload_mb}mb",
        theme=theme(),
        css=css(),
        i18n=translations(),
        show_error=True,
        footer_links=["api"],
        **launch_kwargs(),  # a request body too deep to parse gets the project's words
    )


if __name__ == "__main__":
    sys.exit(main())
