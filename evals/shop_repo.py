"""Builds the demo shop's monorepo ("acme/shop") as a real git repository, with gitpython.

Every commit has a fixed author, committer and date, and the repository is created without reading
any global or system git configuration, so the SHAs are the same on every machine and every run.
`build_shop_repo` returns {deploy change id: commit SHA}; each deploy's commit touches only its
service's directory and bumps its version. The orders v2.14.0 commit is the guilty one (N+1 price
queries, planner hint removed) unless `inject=False`, when it is a harmless docstring.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import git
from gitdb.db.loose import LooseObjectDB

from inquest.evals import shop_sources as src

REPOSITORY = "acme/shop"


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


@dataclass(frozen=True)
class Commit:
    key: str  # the deploy change id this commit ships, or a label for non-deploy commits
    at: datetime
    author: Person
    message: str
    service: str | None = None  # whose version to bump
    version: str | None = None
    edits: tuple[tuple[str, str, str], ...] = ()  # (path, old text, new text)


def _t(month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def _replace(path: str, old: str, new: str) -> tuple[str, str, str]:
    return (path, old, new)


def commits(inject: bool) -> list[Commit]:
    """The repository's history, oldest first. Only the last commit depends on `inject`."""
    orders_edits = src.GUILTY_REPOSITORY_EDITS if inject else src.HARMLESS_ORDERS_EDITS
    orders_message = src.GUILTY_MESSAGE if inject else src.HARMLESS_ORDERS_MESSAGE
    return [
        Commit("import", _t(10, 6, 9, 0), DANA, "Import the shop monorepo\n"),
        Commit("dep-orders-2.13.1", _t(11, 2, 11, 20), DANA, "orders: reject orders with an empty cart\n",
               "orders", "2.13.1", (_replace("services/orders/orders/handlers.py",
                                             '    order_id = int(body["order_id"])\n',
                                             '    if not body.get("total"):\n'
                                             '        raise ValueError("empty cart")\n'
                                             '    order_id = int(body["order_id"])\n'),)),
        Commit("dep-frontend-5.1.3", _t(11, 2, 13, 5), MARCUS, "frontend: lazy-load product images\n",
               "frontend", "5.1.3", (_replace("services/frontend/static/css/main.css", "footer {",
                                              "img[loading=lazy] { min-height: 120px; }\nfooter {"),)),
        Commit("dep-frontend-5.1.4", _t(11, 2, 17, 30), MARCUS,
               "frontend: escape the search query in the results header\n",
               "frontend", "5.1.4", (_replace("services/frontend/frontend/routes.py", "import logging\n",
                                              "import html\nimport logging\n"),)),
        Commit("dep-catalog-4.6.2", _t(11, 2, 18, 10), KEIKO, "catalog: cap search page size at 24\n",
               "catalog", "4.6.2", (_replace("services/catalog/catalog/search.py", "def search(conn, text: str, "
                                             "page: int = 0)", "def search(conn, text: str, page: int = 0, *, "
                                             "limit: int | None = None)"),)),
        Commit("dep-checkout-3.11.0", _t(11, 3, 8, 40), DANA, "checkout: pass an idempotency key to payments\n",
               "checkout", "3.11.0", (_replace("services/checkout/checkout/clients.py", "nothing retries.",
                                               "nothing retries;\npayments dedupes on the Idempotency-Key header."),)),
        Commit("dep-orders-2.13.2", _t(11, 3, 9, 20), DANA, "orders: log the tenant with each created order\n",
               "orders", "2.13.2", (_replace("services/orders/orders/handlers.py",
                                             'log.info("order created order_id=%s items=%d total=%s", order_id, '
                                             'len(lines), total)',
                                             'log.info("order created order_id=%s tenant=%s items=%d total=%s", '
                                             'order_id, body["tenant_id"], len(lines), total)'),)),
        Commit("dep-payments-2.7.4", _t(11, 3, 9, 50), LENA, "payments: pin Stripe API version 2024-06-20\n",
               "payments", "2.7.4", (_replace("services/payments/payments/stripe_client.py",
                                              'STRIPE_API_VERSION = "2023-10-16"', 'STRIPE_API_VERSION = '
                                              '"2024-06-20"'),)),
        Commit("dep-inventory-3.8.0", _t(11, 3, 10, 5), PRIYA, "inventory: make the pool timeout configurable\n",
               "inventory", "3.8.0", (_replace("services/inventory/inventory/config.py",
                                               "    pool_timeout_ms: int = 2000\n",
                                               '    pool_timeout_ms: int = int(os.environ.get('
                                               '"INVENTORY_POOL_TIMEOUT_MS", "2000"))\n'),)),
        Commit("dep-notifications-1.8.3", _t(11, 3, 10, 20), PRIYA, "notifications: surface SMTP 4xx as retryable\n",
               "notifications", "1.8.3", (_replace("services/notifications/notifications/consumer.py",
                                                   "(order_id=%s, will retry)", "(order_id=%s, attempt 1/5)"),)),
        Commit("dep-inventory-3.8.1", _t(11, 3, 12, 41), PRIYA, "inventory: log reservation counts at debug level\n",
               "inventory", "3.8.1", (_replace("services/inventory/inventory/app.py",
                                               '    log.info("reserved %d items for order %s"',
                                               '    log.debug("reserved %d items for order %s"'),)),
        Commit("dep-notifications-1.9.0", _t(11, 3, 13, 2), PRIYA,
               "notifications: refresh the order confirmation e-mail\n",
               "notifications", "1.9.0", (_replace("services/notifications/templates/order_confirmation.html",
                                                   "<h1>Thanks for your order!</h1>",
                                                   '<img src="https://cdn.acme-shop.example/logo.png" alt="Acme">\n'
                                                   "<h1>Thank you, your order is in!</h1>"),)),
        Commit("dep-frontend-5.2.0", _t(11, 3, 13, 31), MARCUS, "frontend: new checkout button copy, roomier footer\n",
               "frontend", "5.2.0", (_replace("services/frontend/templates/checkout.html", "Place order", "Buy now"),
                                     _replace("services/frontend/static/css/main.css", "padding: 24px;",
                                              "padding: 32px 24px;"))),
        Commit("dep-orders-2.14.0", _t(11, 3, 13, 36), DANA, orders_message, "orders", "2.14.0", orders_edits),
    ]


class _InProcessWrites(git.GitCmdObjectDB):
    """Writes new objects as loose objects from Python (what git itself would write) instead of
    running one `git hash-object` per blob and tree; reads still go through git."""

    def store(self, istream):
        return LooseObjectDB.store(self, istream)


def _environment(home: Path) -> dict[str, str]:
    """No global or system git configuration may leak into the repository or its commits."""
    return {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "HOME": str(home),
            "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}


def init_repo(path: Path) -> git.Repo:
    """An empty repository at `path` (replacing anything there), isolated from the machine's git config
    and writing objects in-process; the demo world and the scenario simulator both build on it."""
    path = Path(path)
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    env = _environment(path)
    git.Git(str(path)).execute(["git", "init", "--quiet", "--initial-branch=main", str(path)], env=env)
    repo = git.Repo(str(path), odbt=_InProcessWrites)
    repo.git.update_environment(**env)
    with repo.config_writer("repository") as cfg:
        cfg.set_value("i18n", "commitEncoding", "UTF-8")
        cfg.set_value("core", "autocrlf", "false")
        cfg.set_value("core", "fileMode", "false")
    return repo


def build_shop_repo(path: Path, *, inject: bool = True) -> dict[str, str]:
    """Creates the repository at `path` (replacing anything there) and returns {deploy id: SHA}."""
    path = Path(path)
    repo = init_repo(path)

    tree: dict[str, str] = {}
    shas: dict[str, str] = {}
    for commit in commits(inject):
        changed: list[str] = []
        if commit.key == "import":
            tree.update(src.initial_tree())
            changed.extend(tree)
        else:
            for file, old, new in commit.edits:
                if old not in tree[file]:
                    raise ValueError(f"{commit.key}: {file} does not contain {old[:60]!r}")
                tree[file] = tree[file].replace(old, new, 1)
                changed.append(file)
            init = f"services/{commit.service}/{commit.service}/__init__.py"
            tree[init] = f'__version__ = "{commit.version}"\n'
            changed.append(init)
        for file in dict.fromkeys(changed):
            target = path / file
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(tree[file], encoding="utf-8", newline="\n")
        repo.index.add(sorted(dict.fromkeys(changed)))
        made = repo.index.commit(commit.message, author=commit.author.actor, committer=MERGER.actor,
                                 author_date=commit.at, commit_date=commit.at, skip_hooks=True)
        if commit.key.startswith("dep-"):
            shas[commit.key] = made.hexsha
            git.Reference.create(repo, f"refs/tags/{commit.service}/v{commit.version}", made)  # lightweight tag
    return shas


def commit_author(deploy_id: str) -> str:
    """The name of whoever authored the commit a deploy ships (the same with or without injection)."""
    for commit in commits(True):
        if commit.key == deploy_id:
            return commit.author.name
    raise KeyError(deploy_id)
