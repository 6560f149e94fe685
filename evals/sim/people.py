"""Who works on the shop: the authors of its commits and changes, and the merge queue that commits them all."""

from __future__ import annotations

from dataclasses import dataclass

import git


@dataclass(frozen=True)
class Person:
    name: str
    email: str

    @property
    def actor(self) -> git.Actor:
        return git.Actor(self.name, self.email)


DANA = Person("Dana Whitfield", "dana@acme-shop.example")  # orders, checkout
MARCUS = Person("Marcus Oyelaran", "marcus@acme-shop.example")  # frontend
PRIYA = Person("Priya Raman", "priya@acme-shop.example")  # inventory, notifications
KEIKO = Person("Keiko Sato", "keiko@acme-shop.example")  # catalog
LENA = Person("Lena Brandt", "lena@acme-shop.example")  # payments
MERGER = Person("acme-shop-bot", "bot@acme-shop.example")  # the merge queue commits everything
