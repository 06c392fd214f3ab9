"""Who owns what the connector writes in Salesforce: hub queues resolved to queue (Group) and
User Ids, and the person-account record type — each looked up once, then remembered."""

from __future__ import annotations

from connectors.salesforce import soql
from connectors.salesforce.transport import SalesforceTransport
from nurture.errors import ConfigError


class SalesforceOwners(SalesforceTransport):
    """Owner and record-type lookups (one SOQL each, then cached)."""

    def _person_record_type(self) -> str:
        """The Id of the person-account record type (one SOQL query, then remembered).

        Raises:
            ConfigError: the org has no such active person-account record type.
        """
        if self._person_type_id is None:
            wanted = self.settings.person_record_type
            if soql.is_id(wanted, "012"):
                self._person_type_id = wanted
            else:
                query = soql.select(
                    ["Id"],
                    "RecordType",
                    where=f"SobjectType = 'Account' AND IsPersonType = true AND IsActive = true "
                    f"AND DeveloperName = {soql.quote(wanted)}",
                )
                rows = list(self._query(query, "RecordType person account"))
                if not rows:
                    raise ConfigError(
                        [
                            f"object: Account means Person Accounts, but this org has no active person-account "
                            f"record type {wanted!r} (enable Person Accounts, or set person_record_type)"
                        ],
                        source=f"Salesforce settings ({self.settings.connection_name})",
                    )
                self._person_type_id = str(rows[0]["Id"])
        return self._person_type_id

    def _lead_owners(self) -> dict[str, str]:
        """Hub queue → Group Id, resolved with one SOQL on Group the first time, then cached."""
        if self._lead_owner_ids is not None:
            return self._lead_owner_ids
        wanted = self.settings.lead_queue_owners
        ids = {queue: target for queue, target in wanted.items() if soql.is_id(target, "00G")}
        if len(ids) < len(wanted):
            names: dict[str, str] = {}
            query = soql.select(["Id", "Name", "DeveloperName"], "Group", where="Type = 'Queue'")
            for group in self._query(query, "Group queues"):
                for key in ("DeveloperName", "Name"):
                    if group.get(key):
                        names.setdefault(str(group[key]).casefold(), str(group["Id"]))
            problems = []
            for queue, target in wanted.items():
                if queue in ids:
                    continue
                if target.casefold() in names:
                    ids[queue] = names[target.casefold()]
                else:
                    problems.append(f"lead_queue_owners.{queue}: no Salesforce queue named {target!r}")
            if problems:
                raise ConfigError(problems, source=self.settings.connection_name)
        self._lead_owner_ids = ids
        return ids

    def _task_owners(self) -> dict[str, str]:
        """Hub queue → User Id ("" for the default owner); usernames are resolved with one SOQL on
        User the first time, then cached."""
        if self._task_owner_ids is not None:
            return self._task_owner_ids
        wanted = dict(self.settings.task_owners)
        if self.settings.default_task_owner:
            wanted[""] = self.settings.default_task_owner
        ids = {queue: owner for queue, owner in wanted.items() if soql.is_id(owner, "005", "00G")}
        usernames = sorted({owner for queue, owner in wanted.items() if queue not in ids})
        if usernames:
            users: dict[str, tuple[str, bool]] = {}
            for chunk in soql.in_chunks(usernames):
                where = f"Username IN {soql.in_list(chunk)}"
                query = soql.select(["Id", "Username", "IsActive"], "User", where=where)
                for user in self._query(query, "User owners"):
                    users[str(user["Username"]).casefold()] = (str(user["Id"]), bool(user.get("IsActive")))
            problems = []
            for queue, owner in wanted.items():
                if queue in ids:
                    continue
                key = f"task_owners.{queue}" if queue else "default_task_owner"
                match = users.get(owner.casefold())
                if match is None:
                    problems.append(f"{key}: no Salesforce user with username {owner!r}")
                elif not match[1]:
                    problems.append(f"{key}: Salesforce user {owner!r} is inactive and cannot own tasks")
                else:
                    ids[queue] = match[0]
            if problems:
                raise ConfigError(problems, source=self.settings.connection_name)
        self._task_owner_ids = ids
        return ids
