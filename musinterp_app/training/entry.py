"""The ``musinterp-train`` command's entry point: without the ``train`` extra (torch and
friends) it says how to install it, in one line, instead of a traceback."""

import sys

# Top-level modules the train extra brings (pyproject.toml), as imported.
TRAIN_EXTRA_MODULES = frozenset(
    {"torch", "onnx", "onnxscript", "OpenEXR", "tqdm", "sklearn", "matplotlib", "umap"}
)
INSTALL_HINT = "pip install 'musinterp[train]'"


def main(argv: list[str] | None = None) -> int:
    try:
        from musinterp_app.training.cli import main as train_main
    except ModuleNotFoundError as error:
        missing = (error.name or "").split(".")[0]
        if missing not in TRAIN_EXTRA_MODULES:
            raise
        print(
            f"musinterp-train needs the training extra ({missing} is not installed): "
            f"{INSTALL_HINT}",
            file=sys.stderr,
        )
        return 1
    return train_main(argv)


if __name__ == "__main__":
    sys.exit(main())
