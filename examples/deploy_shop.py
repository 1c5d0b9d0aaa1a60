#!/usr/bin/env python3
"""A shop deployed to three web servers and a database server, with shoal.deploy.

Try it on the loopback testbed (``shoal testbed up`` starts one; run as root it also
makes the sudo password the example uses)::

    export SHOP_SSH_CONFIG=/tmp/shoal-testbed-$(id -u)/ssh_config
    export SHOP_SUDO_PASSWORD_FILE=/var/lib/shoal-testbed/sudo-password
    shoal deploy examples/deploy_shop.py --run Production.deploy v42
    shoal deploy examples/deploy_shop.py --sandbox --run Production.deploy v43
    shoal deploy examples/deploy_shop.py --run Production.Status.uptime
    python3 examples/deploy_shop.py run --path Production.Web current   # python-deployer's way

SHOP_BASE (default /tmp/shoal-example) is where the releases go on the hosts.

What it shows: hosts from a node-set expression (``node[1-3]``), a database role, a
template node with a required property, ``Q`` queries, a ParallelNode array that
deploys on every web server at once, ``cd``/``prefix``/``env`` contexts, ``sudo`` with
a password, a question answered by its default when nobody is there, groups, and results
that say which host did what.
"""

from __future__ import annotations

import os
from pathlib import Path

from shoal.deploy.client import start
from shoal.deploy.groups import production, staging
from shoal.deploy.host import SSHHost
from shoal.deploy.node import Node, ParallelNode, map_roles, required_property
from shoal.deploy.query import Q


def _sudo_password() -> str | None:
    """The sudo password, read from the file SHOP_SUDO_PASSWORD_FILE names (if any)."""
    path = os.environ.get("SHOP_SUDO_PASSWORD_FILE")
    return Path(path).read_text().strip() if path else None


class ShopHost(SSHHost):
    """Every machine of the shop: reached through an ssh config, sudo with a password."""

    config_filename = os.environ.get("SHOP_SSH_CONFIG", "~/.ssh/config")
    sudo_password = _sudo_password()


class WebApp(Node):
    """A web application: roles 'web' (app servers) and 'db' (its database)."""

    project = required_property("the project's short name, e.g. 'shop'")
    base = os.environ.get("SHOP_BASE", "/tmp/shoal-example")
    root = Q("%s/%s") % (Q.base, Q.project)

    @map_roles(host="web", db="db")
    class Web(ParallelNode.Array):
        """The application on each web server: one isolation per host, run at once."""

        releases = Q.parent.root + "/releases"
        settings = Q("%s.settings.production") % Q.parent.project

        def deploy(self, revision: str) -> str:
            release = f"{self.releases}/{revision}"
            self.host.run(f"mkdir -p {release}/bin")
            with self.host.cd(release):
                with self.host.open(f"{release}/bin/activate", "w") as activate:
                    activate.write(f"export RELEASE={revision}\n")
                with self.host.prefix(". bin/activate"), \
                        self.host.env("DJANGO_SETTINGS_MODULE", self.settings):
                    self.host.run('echo "$RELEASE $DJANGO_SETTINGS_MODULE" > built')
                self.host.run(f"ln -sfn {release} {self.parent.root}/current")
            self.host.sudo("whoami", interactive=False)  # stands for "service app reload"
            return self.current()

        def current(self) -> str:
            """The release the host serves."""
            return self.host.run(f"cat {self.parent.root}/current/built",
                                 interactive=False).strip()

    @map_roles(master="db")
    class Database(Node):
        """The database server."""

        dump = Q.parent.root + "/backup.sql"

        def backup(self) -> str:
            self.hosts.run(f"mkdir -p {self.parent.root}")
            with self.hosts.cd(self.parent.root):
                self.hosts.run(f"date > {self.dump}")
            return self.hosts.sudo("id -u", user="nobody", interactive=False)[0].strip()

    class Status(Node):
        """Every host of the application, both roles (no mapping)."""

        def uptime(self) -> list[str]:
            return self.hosts.run("uptime", interactive=False)

    def deploy(self, revision: str = "main") -> list[str]:
        """Back the database up, then deploy ``revision`` on every web server at once."""
        if not self.console.confirm(f"Deploy {revision} of {self.project}?", default=True):
            return []
        self.Database.backup()
        served = self.Web.deploy(revision)  # {isolation: what it serves}
        return sorted(set(served))


class Root(Node):
    """The shop's environments."""

    @production
    class Production(WebApp):
        project = "shop"

        class Hosts:
            _host_class = ShopHost
            web = "node[1-3]"
            db = "node4"

    @staging
    class Staging(WebApp):
        project = "shop-staging"

        class Hosts:
            _host_class = ShopHost
            web = "node5"
            db = "node5"


if __name__ == "__main__":
    start(Root)
