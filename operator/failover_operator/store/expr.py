"""Builds DynamoDB expressions with generated attribute-name and value placeholders.

Every attribute name goes through a placeholder, so no expression can trip over DynamoDB's long list of
reserved words (`name`, `owner`, `state`, ...).
"""

from __future__ import annotations

from typing import Any


class Expr:
    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, dict[str, Any]] = {}

    def n(self, attribute: str) -> str:
        """Placeholder for an attribute name."""
        for placeholder, existing in self.names.items():
            if existing == attribute:
                return placeholder
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def v(self, value: dict[str, Any]) -> str:
        """Placeholder for a low-level attribute value, e.g. {"S": "east"}."""
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = value
        return placeholder

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.names:
            out["ExpressionAttributeNames"] = dict(self.names)
        if self.values:
            out["ExpressionAttributeValues"] = dict(self.values)
        return out


def update_expression(sets: list[str], removes: list[str] | None = None) -> str:
    text = "SET " + ", ".join(sets)
    if removes:
        text += " REMOVE " + ", ".join(removes)
    return text
