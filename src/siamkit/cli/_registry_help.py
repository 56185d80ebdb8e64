"""A click command whose ``--help`` ends with the names the registries accept (read when shown)."""

from __future__ import annotations

import click


class RegistryHelpCommand(click.Command):
    """``--help`` lists, after the options, every registered name of the config's choices."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)
        from siamkit.training.config_checks import registered_choices

        with formatter.section("Registered names (config keys)"):
            formatter.write_text(
                "Each key but loss.kind and index takes a name or {kind: NAME, params: {...}}, "
                "e.g. model.encoder: {kind: resnet, params: {layers: [1, 1, 1]}}; params are "
                "checked against the part's signature. loss.kind's parameters go in loss.params; "
                "index is a gallery's --index."
            )
            formatter.write_dl(
                [(key, ", ".join(names)) for key, names in registered_choices().items()]
            )
