#!/usr/bin/env python3
"""Local AWS stand-in: moto server in-process, plus the few endpoints moto lacks.

Runs moto (ThreadedMotoServer) on 127.0.0.1 and adds, under /keyrotator/:

  POST /keyrotator/backdate   set an access key's CreateDate and LastUsedDate
                              (moto has no API for that); body:
                              {"accountId": "...", "userName": "...",
                               "accessKeyId": "AKIA...",
                               "createDate": "2026-01-02T03:04:05Z",
                               "lastUsedDate": "2026-03-01T00:00:00Z" | null,
                               "lastUsedService": "s3", "lastUsedRegion": "us-east-1"}
                              (service and region are required with a lastUsedDate;
                              GetAccessKeyLastUsed then returns them, and N/A for a key
                              never used, as AWS does)
                              A user created after its back-dated key is moved back
                              to the key's creation time (IAM cannot hold a key older
                              than its user).
  POST /keyrotator/users      create users with their tags and back-dated keys in one
                              account, directly in moto's IAM backend (seeding thousands
                              of users through IAM's API, three calls a key, takes
                              minutes); body: {"accountId": "...", "users": [{"name":
                              "alice", "tags": {"EmailID": "..."}, "keys": [{"status":
                              "Active"|"Inactive", "createDate": ..., "lastUsedDate":
                              ... | null, "lastUsedService": ..., "lastUsedRegion":
                              ...}]}]}; answers {"keys": [{"userName",
                              "accessKeyId", "secretAccessKey"}]}, in the body's order
  POST /keyrotator/account-name  rename an account of the organization (moto names
                              the management account "master"); body:
                              {"accountId": "123456789012", "name": "management"}
  POST /keyrotator/account-state  set a member account's Organizations State; body:
                              {"accountId": "123456789012", "state": "SUSPENDED"}
                              (ACTIVE, SUSPENDED, PENDING_CLOSURE or CLOSED)
  POST /keyrotator/credential-reports  from now on, keep credential reports as IAM does:
                              every account's report is taken now, dated hoursAgo
                              (0-168) hours back, and GenerateCredentialReport answers
                              COMPLETE and GetCredentialReport returns it unchanged until
                              it is 4 hours old, then STARTED and a new one (as after
                              yesterday's daily run: 24); body: {"hoursAgo": 3}
  POST /keyrotator/ses-sandbox  from now on, SES sends as in its sandbox: only to verified
                              identities (others: MessageRejected), at most maxSendRate
                              messages per second per account (0 or absent: no limit;
                              over it: TooManyRequestsException); body: {"maxSendRate": 1}
  POST /keyrotator/stack-instance-failed  the StackSet instances of an account read as failed
                              (Status OUTDATED, DetailedStatus FAILED) with the reason;
                              body: {"accountId": "...", "statusReason": "..."}
  POST /keyrotator/accounts    create count member accounts in the organization's root at
                              once, each as CreateAccount creates one (ACTIVE, joined
                              CREATED, named <namePrefix>-<i>, <namePrefix>-<i>@example.com),
                              for an organization of tens of thousands of accounts (one
                              CreateAccount call each would take minutes); body: {"count":
                              1-100000, "namePrefix": "bulk"}; answers {"accountIds": [...]}
                              in the order created (ListAccounts' order)
  GET  /keyrotator/ses-messages?from=N&limit=L&maxBytes=B
                              the raw messages SES accepted (every account and region),
                              in the order it accepted them, from the Nth (0-based) on:
                              at most L of them (1-1000, default 100) and, past the
                              first, no more than B bytes of raw MIME (default 8 MiB, at
                              most 32 MiB); answers {"total": ..., "next": ..., "messages":
                              [{"id", "source", "destinations", "raw_data", "sent_at"}]},
                              next the index after the last one given (= total when
                              none is left), so that a reader takes them in bounded
                              pieces however many the stand-in holds (data.json answers
                              with the whole state at once, which stops fitting one
                              answer near 3,000 accounts); limit=0 answers the total
                              alone
  GET  /keyrotator/model?service=S&name=M&from=N&limit=L&maxBytes=B
                              the instances of one of moto's models (what data.json lists
                              under S.M, e.g. ses.Message, sts.AssumedRole, sns.Topic),
                              each with the same attributes, in the order made, paged as
                              ses-messages is (B counts each instance's JSON); answers
                              {"total": ..., "next": ..., "instances": [...]}; 404 for a
                              model moto does not have
  PUT  /keyrotator/settings   store the rotator settings of the seeded scenario
  GET  /keyrotator/settings   read them back (404 until a scenario was seeded)
  GET  /keyrotator/health     200 once the server answers

and SES v2's account-level suppression list, which moto lacks (the rotator reads it to learn
that a new key's email bounced), as AWS serves it:

  PUT    /v2/email/suppression/addresses           {"EmailAddress": ..., "Reason": "BOUNCE"|"COMPLAINT"}
  GET    /v2/email/suppression/addresses/{address}  the entry, or 404 NotFoundException
  DELETE /v2/email/suppression/addresses/{address}

and SES v2 GetConfigurationSet answered as AWS answers it (patch_sesv2_configuration_set:
moto's SendingOptions cannot be read, and it sends an empty object for every option a set
was created without),

and SNS Publish refusing a per-protocol message (MessageStructure json) without a "default"
string, as SNS does whether or not the topic has subscribers (moto: only while delivering to
one), with the MessageStructure kept in data.json beside each sent notification
(sns_message_structure_as_aws),

and SES v2 SendEmail refusing a message over 40 MB (MessageRejected), as SES does and moto
does not (limit_sesv2_message_size),

and SES v2 GetAccount (GET /v2/email/account), which moto lacks (the rotator reads its send
quota and its suppression settings): a new production account's quota (14 messages per
second, 50,000 a day), or once the SES sandbox is on, the sandbox's (maxSendRate, or AWS's 1
when 0; 200 a day), and SuppressionAttributes, BOUNCE and COMPLAINT as for every account that
started using SES after 2019-11-25 until PutAccountSuppressionAttributes
(PUT /v2/email/account/suppression, {"SuppressedReasons": [...]}) changes them. The stand-in
sees no bounce: an address is on the suppression list only once a test puts it there, whatever
the settings (moto's configuration sets keep their SuppressionOptions, which GetConfigurationSet
returns; the rotator checks those, or the account's, before it relies on the list). Every
message SES accepts is stamped with the time SES received it, "sent_at" in data.json
(moto keeps no time), so that tests can count the sends of each second.

and the SES v2 account-level writes moto lacks: PutAccountSendingAttributes (PUT
/v2/email/account/sending), which pauses or resumes the account's sending, GetAccount's
SendingEnabled, and SendEmail refused with SendingPausedException while paused
(pause_sesv2_sending); PutAccountDetails (POST /v2/email/account/details), which with
ProductionAccessEnabled takes the account out of the SES sandbox at once (AWS reviews the
request first, within a day) and GetAccount then returns its Details,

and Organizations' feature set as AWS has it (organization_features_as_aws): an organization
created with CONSOLIDATED_BILLING gets all features by EnableAllFeatures and then the
management account's AcceptHandshake of the APPROVE_ALL_FEATURES handshake it lists
(ListHandshakesForAccount; every account on the stand-in was created, so none is to be
invited); until then EnableAWSServiceAccess and RegisterDelegatedAdministrator are refused
(ConstraintViolationException, ORGANIZATION_NOT_IN_ALL_FEATURES_MODE); StackSets may have a
delegated administrator,

and UpdateStackInstances of a service-managed StackSet taking DeploymentTargets, which retries
the failed instances below the OUs (moto reads Accounts only): an instance that failed because
its role's name was taken fails again while a role of that name is still in the account, any
other then reads as succeeded (stack_sets_as_aws),

Everything else is moto's: the AWS APIs and /moto-api/ (data.json, reset, reset-auth,
which switches IAM authorization on; see enforce_iam_as_aws for how it is made to decide
as AWS does), with
Organizations accounts described by State only (AWS retired Account.Status on 2026-09-09;
moto still sends it), Organizations' List calls paged as AWS pages them (at most 20 entries,
MaxResults above 20 refused; moto: 100 accounts a ListAccounts page, any MaxResults;
a ListAccounts page costs its own accounts, not the organization's),
IAM's GetAccountAuthorizationDetails paged as AWS pages it (page_authorization_details_as_aws;
moto: every entity at once), IAM user tag keys compared case-insensitively and at most 50
tags a user (iam_user_tags_as_aws; moto: keys compared exactly, no quota), SES identities
whose verification succeeded verified for sending (ses_identities_as_aws; moto says they are
not), service-managed StackSets deployed to the accounts of every OU below their targets and
never to the management account (stack_sets_as_aws; moto: one level of OUs, and the management
account too), with STS AssumeRole refused (AccessDenied) for a role that does not exist — moto would hand
out credentials for any ARN, so a wrong role name would go unnoticed — and with
fixes to IAM's credential report (patch_credential_report) so that it reads as AWS's
does: GeneratedTime is the time of the request (moto: always 2015-02-02, which would look
stale to any freshness check), and the access_key_N_last_used_region/_service columns
hold the key's last-use region and service, or N/A (moto: always "not_supported");
password_last_changed is N/A for a user without a password (moto: its creation time),
and access_key_N_last_rotated is N/A for an inactive key (moto: its creation time).
moto's two lookups that took time in proportion to the number of accounts on every request
(a service backend of an account, and the account of an access key) are made constant
(find_accounts_in_constant_time): at 3,000 accounts they made a run's time grow with the
square of the organization.
Security Hub's BatchImportFindings takes findings as AWS does (securityhub_imports_as_aws;
moto: any finding with a resource, in any account, Security Hub enabled or not): only with
Security Hub enabled, 1 to 100 findings a request, each with every required attribute, of
the caller's account and under its default product, else that finding fails alone.
On start it prints one line, "listening http://127.0.0.1:PORT", to stdout; it stops
cleanly on SIGINT or SIGTERM. MOTO_ACCOUNT_ID is removed from the environment: with
it set, STS AssumeRole could not switch accounts.
"""

import argparse
import collections
import datetime
import fnmatch
import json
import logging
import os
import re
import signal
import sys
import threading
import time

if "MOTO_ACCOUNT_ID" in os.environ:
    # moto reads it on every request; it must be gone before moto answers anything.
    del os.environ["MOTO_ACCOUNT_ID"]
    print("moto_server: ignoring MOTO_ACCOUNT_ID (it would pin every call to one account)",
          file=sys.stderr)

from moto.moto_server.threaded_moto_server import ThreadedMotoServer  # noqa: E402
from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server  # noqa: E402

PREFIX = "/keyrotator/"
SUPPRESSION = "/v2/email/suppression/addresses"
SES_ACCOUNT = "/v2/email/account"
SES_ACCOUNT_SUPPRESSION = "/v2/email/account/suppression"
SES_ACCOUNT_SENDING = "/v2/email/account/sending"
SES_ACCOUNT_DETAILS = "/v2/email/account/details"
MAX_BODY = 1 << 20


class BadRequest(Exception):
    """A request to a /keyrotator/ endpoint that cannot be served; status and message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def parse_time(value, field):
    """Parse an RFC 3339 UTC time into the naive UTC datetime moto stores."""
    if not isinstance(value, str):
        raise BadRequest(400, f"{field}: must be an RFC 3339 time string")
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as err:
        raise BadRequest(400, f"{field}: {err}") from None
    if parsed.tzinfo is None:
        raise BadRequest(400, f"{field}: needs a time zone (e.g. Z)")
    return parsed.astimezone(datetime.timezone.utc).replace(tzinfo=None)


def iam_backend(account_id):
    """moto's IAM backend of an account, by its 12-digit ID."""
    from moto.iam.models import iam_backends

    if not (isinstance(account_id, str) and len(account_id) == 12 and account_id.isdigit()):
        raise BadRequest(400, "accountId: must be 12 digits")
    return iam_backends[account_id]["aws"]


def key_dates(body, field):
    """The createDate and last use of a key in a request body: lastUsedDate (None: never
    used), lastUsedService and lastUsedRegion (required with a lastUsedDate)."""
    if not isinstance(body.get("createDate"), str) or not body["createDate"]:
        raise BadRequest(400, f"{field}createDate: required string")
    create_date = parse_time(body["createDate"], f"{field}createDate")
    last_used = body.get("lastUsedDate")
    if last_used is None:
        return create_date, None, None, None
    last_used = parse_time(last_used, f"{field}lastUsedDate")
    if last_used < create_date:
        raise BadRequest(400, f"{field}lastUsedDate: before createDate")
    for name in ("lastUsedService", "lastUsedRegion"):
        if not isinstance(body.get(name), str) or not body[name]:
            raise BadRequest(400, f"{field}{name}: required string with lastUsedDate")
    return create_date, last_used, body["lastUsedService"], body["lastUsedRegion"]


def set_key_dates(user, key, create_date, last_used, service, region):
    """Back-date a key (and its user, which IAM cannot make younger than its keys)."""
    from moto.iam.models import AccessKeyLastUsed

    key.create_date = create_date
    key.last_used = None if last_used is None else AccessKeyLastUsed(
        timestamp=last_used, service=service, region=region)
    if user.create_date > create_date:
        user.create_date = create_date


def backdate(body):
    """Set create_date and last_used of one access key in moto's IAM backend."""
    for field in ("accountId", "userName", "accessKeyId"):
        if not isinstance(body.get(field), str) or not body[field]:
            raise BadRequest(400, f"{field}: required string")
    account_id = body["accountId"]
    backend = iam_backend(account_id)
    user = backend.users.get(body["userName"])
    if user is None:
        raise BadRequest(404, f"user {body['userName']} in {account_id}: not found")
    key = next((k for k in user.access_keys if k.access_key_id == body["accessKeyId"]), None)
    if key is None:
        raise BadRequest(404, f"access key {body['accessKeyId']} of {body['userName']} "
                              f"in {account_id}: not found")

    set_key_dates(user, key, *key_dates(body, ""))
    return {"accountId": account_id, "userName": user.name,
            "accessKeyId": key.access_key_id}


def create_users(body):
    """Create users with tags and back-dated keys in one account, in moto's IAM backend."""
    backend = iam_backend(body.get("accountId"))
    users = body.get("users")
    if not isinstance(users, list):
        raise BadRequest(400, "users: required list")
    # Check every entry before creating anything.
    for i, u in enumerate(users):
        if not isinstance(u, dict) or not isinstance(u.get("name"), str) or not u["name"]:
            raise BadRequest(400, f"users[{i}].name: required string")
        if u["name"] in backend.users:
            raise BadRequest(400, f"users[{i}].name: user {u['name']} exists")
        u["tags"], u["keys"] = u.get("tags") or {}, u.get("keys") or []
        if not isinstance(u["tags"], dict) or not isinstance(u["keys"], list):
            raise BadRequest(400, f"users[{i}]: tags must be an object, keys a list")
        for j, k in enumerate(u["keys"]):
            if not isinstance(k, dict) or k.get("status") not in ("Active", "Inactive"):
                raise BadRequest(400, f"users[{i}].keys[{j}].status: Active or Inactive")
            key_dates(k, f"users[{i}].keys[{j}].")
    created = []
    for u in users:
        tags = [{"Key": k, "Value": v} for k, v in sorted(u["tags"].items())]
        user = backend.create_user("us-east-1", u["name"], tags=tags)
        for k in u["keys"]:
            key = backend.create_access_key(u["name"], status=k["status"])
            set_key_dates(user, key, *key_dates(k, ""))
            created.append({"userName": u["name"], "accessKeyId": key.access_key_id,
                            "secretAccessKey": key.secret_access_key})
    return {"keys": created}


ACCOUNT_STATES = ("ACTIVE", "SUSPENDED", "PENDING_CLOSURE", "CLOSED")


def find_account(account_id):
    """The organization account with this ID, from its management account's backend."""
    from moto.organizations.models import organizations_backends

    # Member accounts are held by their management account's backend.
    owner, partition = organizations_backends.master_accounts.get(account_id, (account_id, "aws"))
    for account in organizations_backends[owner][partition].accounts:
        if account.id == account_id:
            return account
    raise BadRequest(404, f"account {account_id}: not in an organization")


def set_account_state(body):
    """Set an organization account's State, which Organizations APIs then report."""
    for field in ("accountId", "state"):
        if not isinstance(body.get(field), str) or not body[field]:
            raise BadRequest(400, f"{field}: required string")
    if body["state"] not in ACCOUNT_STATES:
        raise BadRequest(400, f"state: must be one of {', '.join(ACCOUNT_STATES)}")
    account = find_account(body["accountId"])
    account.state = body["state"]
    return {"accountId": account.id, "state": account.state}


def rename_account(body):
    """Set an organization account's name, which Organizations APIs then report."""
    for field in ("accountId", "name"):
        if not isinstance(body.get(field), str) or not body[field]:
            raise BadRequest(400, f"{field}: required string")
    account = find_account(body["accountId"])
    account.name = body["name"]
    return {"accountId": account.id, "name": account.name}


ROLE_ARN_RE = re.compile(r"^arn:aws[\w-]*:iam::(\d{12}):role/")


def require_existing_roles():
    """Make STS AssumeRole fail, as AWS does, when the role does not exist."""
    from moto.iam.exceptions import NotFoundException
    from moto.iam.models import iam_backends
    from moto.sts.exceptions import STSClientError
    from moto.sts.models import STSBackend

    original = STSBackend.assume_role

    def assume_role(self, *args, **kwargs):
        role_arn = kwargs.get("role_arn", args[2] if len(args) > 2 else "")
        match = ROLE_ARN_RE.match(role_arn)
        if match is None:
            raise STSClientError("ValidationError", f"{role_arn!r} is not a role ARN")
        try:
            iam_backends[match.group(1)][self.partition].get_role_by_arn(role_arn)
        except NotFoundException:
            raise STSClientError(
                "AccessDenied", f"not authorized to perform sts:AssumeRole on {role_arn}: "
                                "no such role in the stand-in") from None
        return original(self, *args, **kwargs)

    STSBackend.assume_role = assume_role


OPERATOR_ACCESS_KEY = "AKIAKEYROTATORSANDBOX"
# The access key moto takes a request to be signed with when it cannot read one from the
# Authorization header (BaseResponse.get_access_key), as with the operator's.
MOTO_UNREAD_ACCESS_KEY = "AKIAEXAMPLE"


def find_accounts_in_constant_time():
    """Two lookups of moto's take time in proportion to the number of accounts, on every
    request, so that a run's time grew with the square of the organization (at 3,000
    accounts a request's account took 56 ms to find for the last one created); the stand-in
    makes both constant, and what a request acts in is unchanged:

    - every access to a service's backend of an account (BackendDict[account_id]) searches a
      list of every account ID (list(self.keys())) before it creates a missing one: an
      account that is there is now found in the dict itself;
    - the account a request acts in is found from its access key by scanning every account's
      IAM backend (iam.models.get_account_id_from: each account, each partition). A key
      belongs to one account for its life (its ID is made with it), so the account found is
      remembered, and checked on each use to still hold the key (a deleted key is looked up
      again, as moto would). The operator's key is in no account: moto's answer for it, the
      default account, is given at once. moto never reads the operator's key (21
      characters, its pattern takes 20) and looks up its placeholder AKIAEXAMPLE instead,
      which is in no account either: answered at once too (it was scanned for in every
      account on each of the operator's requests: 63 ms a request at 20,000 accounts, 3 ms
      now)."""
    import moto.iam.models as iam_models
    from moto.core.base_backend import BackendDict

    from moto.core.base_backend import AccountSpecificBackend, backend_lock

    def create_account_specific_backend(self, account_id):
        # BackendDict.reset empties the dict with its _instances: an account in it is
        # registered already.
        if dict.__contains__(self, account_id):
            return
        # moto's own searches list(self.keys()) for a new account too, which made creating
        # 30,000 accounts take minutes.
        with backend_lock:
            if not dict.__contains__(self, account_id):
                self[account_id] = AccountSpecificBackend(
                    service_name=self.service_name, account_id=account_id, backend=self.backend,
                    use_boto3_regions=self._use_boto3_regions, additional_regions=self._additional_regions)
            if self not in BackendDict._instances:
                BackendDict._instances.append(self)

    BackendDict._create_account_specific_backend = create_account_specific_backend

    found = {}  # access key ID -> (account ID, partition)

    def get_account_id_from(access_key):
        # moto reads the key out of the Authorization header with a pattern of 20 characters:
        # the operator's, of 21, does not match it and moto answers its placeholder,
        # AKIAEXAMPLE, which no account holds either (every key moto makes has 20).
        if access_key in (OPERATOR_ACCESS_KEY, MOTO_UNREAD_ACCESS_KEY):
            return iam_models.DEFAULT_ACCOUNT_ID
        where = found.get(access_key)
        if where is not None:
            account_id, partition = where
            if access_key in iam_models.iam_backends[account_id][partition].access_keys:
                return account_id
            found.pop(access_key, None)
        # A key not seen yet: moto's scan, without creating the backend of every partition
        # of every account on the way (the first scan at 3,000 accounts took 0.8 s): a key
        # can only be in a backend that exists.
        for account_id, account in list(iam_models.iam_backends.items()):
            for partition, backend in list(dict.items(account)):
                if access_key in backend.access_keys:
                    found[access_key] = (account_id, partition)
                    return account_id
        return iam_models.DEFAULT_ACCOUNT_ID

    iam_models.get_account_id_from = get_account_id_from


def enforce_iam_as_aws():
    """moto's IAM authorization (off until POST /moto-api/reset-auth with a count), made to
    decide as AWS does where the rotator depends on it:

    - the stand-in's operator (sandbox.Config's access key: the seeder, the local runner,
      the tests) is the management account's root: never checked, and not a principal of the
      rotator;
    - a trust policy that names a role lets that role's sessions assume it, and one that
      names an account (its root) lets any principal of the account (moto: exact ARNs only);
    - moto does not know the resource of most calls (it asks about "*"): then a statement
      that allows the action is taken to allow it, and sandbox/permissions' audit checks the
      resource and the conditions from the calls the Lambdas record;
    - moto evaluates no condition on resource tags: a statement with a
      secretsmanager:ResourceTag/<key> condition (Null, StringEquals, StringLike) applies
      to a Secrets Manager call only when the tags of the secret it names meet it, as on AWS
      (a secret that does not exist has no tags); otherwise it neither allows nor denies. So
      the member role, whose grant on secrets needs the tag key key-rotator:user, is denied
      DescribeSecret and PutSecretValue on a secret without it. Likewise ssm:resourceTag/<key>
      on the SSM parameter that ListTagsForResource or PutParameter names, and ssm:Overwrite
      (StringEquals) on PutParameter's Overwrite, so that NotifyUser's role may only
      overwrite a parameter that opts in (moto evaluates StringEquals on sts:ExternalId only);
    - a request without a body (a REST API's GET, HEAD or DELETE, such as SES v2's
      GetConfigurationSet) has its signature checked over the empty payload it was signed
      with, as AWS checks it. moto rebuilds the payload from the request's parameters, which
      for a bodiless request without a query string are its headers: every such call with a
      role's credentials got 403 SignatureDoesNotMatch.
    """
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.core.exceptions import AccessDeniedError, JsonRESTError
    from moto.iam.access_control import IAMPolicyStatement, IAMRequestBase, PermissionResult

    original_aws_request = IAMRequestBase._create_aws_request

    def create_aws_request(self):
        aws_request = original_aws_request(self)
        if self._method in ("GET", "HEAD", "DELETE") and not self._body:
            aws_request.data = b""
        return aws_request

    IAMRequestBase._create_aws_request = create_aws_request

    original_authorize = ActionAuthenticatorMixin._authenticate_and_authorize_action
    # The tags of the secret the request being authorized names (None: not a Secrets
    # Manager request); requests are served on threads of their own.
    request = threading.local()

    def authorize(self, iam_request_cls, resource="*"):
        credential = self.headers.get("Authorization", "").partition("Credential=")[2]
        if credential.partition("/")[0] == OPERATOR_ACCESS_KEY:
            return None
        request.secret_tags = secret_tags(self)
        request.param = parameter_request(self)
        try:
            return original_authorize(self, iam_request_cls, resource)
        except AccessDeniedError as denied:
            if request.secret_tags is None and request.param is None and not self.path.startswith("/v2/email/"):
                raise
            # Secrets Manager, SSM and SES v2 speak JSON: AWS answers {"__type":
            # "AccessDeniedException"} (moto: IAM's XML, which the SDK cannot read).
            raise JsonRESTError("AccessDeniedException", denied.message) from None
        finally:
            request.secret_tags = None
            request.param = None

    original_permitted = IAMPolicyStatement.is_action_permitted

    def is_action_permitted(self, action, resource="*", principal=None, incoming_condition_values=None):
        tags = getattr(request, "secret_tags", None)
        if tags is not None and not resource_tag_conditions_met(self._statement.get("Condition") or {}, tags):
            return PermissionResult.NEUTRAL
        param = getattr(request, "param", None)
        if param is not None and not resource_tag_conditions_met(self._statement.get("Condition") or {}, param[0],
                                                                 SSM_TAG_CONDITION_KEY, param[1]):
            return PermissionResult.NEUTRAL
        return original_permitted(self, action, resource, principal, incoming_condition_values)

    original_matches = IAMPolicyStatement._check_element_matches

    def check_element_matches(self, element, value):
        if element == "Resource" and value == "*":
            return True
        return original_matches(self, element, value)

    def check_principal(self, principal):
        expected = self._statement.get("Principal")
        if not expected:
            return True
        names = expected.get("AWS", []) if isinstance(expected, dict) else expected
        names = [names] if isinstance(names, str) else names
        # arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION is a session of arn:aws:iam::ACCOUNT:role/ROLE
        match = re.match(r"^arn:([\w-]+):sts::(\d{12}):assumed-role/([^/]+)/", principal)
        account = principal.split(":")[4] if principal.count(":") >= 5 else ""
        candidates = {principal, f"arn:{match.group(1)}:iam::{account}:role/{match.group(3)}"} if match else {principal}
        for name in names:
            if name == "*" or name in candidates or name == account or name == f"arn:aws:iam::{account}:root":
                return True
        return False

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authorize
    IAMPolicyStatement.is_action_permitted = is_action_permitted
    IAMPolicyStatement._check_element_matches = check_element_matches
    IAMPolicyStatement._check_principal = check_principal


SECRET_TAG_CONDITION_KEY = "secretsmanager:resourcetag/"


def secret_tags(response):
    """The tags of the secret a Secrets Manager request names, by key ({} when it names none
    that exists), or None for a request to another service."""
    if not response.headers.get("X-Amz-Target", "").startswith("secretsmanager."):
        return None
    from moto.secretsmanager.models import secretsmanager_backends
    try:
        secret_id = json.loads(response.body or "{}").get("SecretId")
    except (ValueError, AttributeError):
        return {}
    if not secret_id:
        return {}
    secret = secretsmanager_backends[response.current_account][response.region].secrets.get(secret_id)
    if secret is None:
        return {}
    return {t["Key"]: t["Value"] for t in (secret.tags or [])}


SSM_TAG_CONDITION_KEY = "ssm:resourcetag/"


def parameter_request(response):
    """For an SSM ListTagsForResource or PutParameter naming a parameter: the tags of that
    parameter ({} when it does not exist) and the request's condition values (ssm:Overwrite
    of a PutParameter); None for any other request."""
    target = response.headers.get("X-Amz-Target", "")
    if target not in ("AmazonSSM.ListTagsForResource", "AmazonSSM.PutParameter"):
        return None
    from moto.ssm.models import ssm_backends
    try:
        body = json.loads(response.body or "{}")
    except (ValueError, AttributeError):
        return {}, {}
    context = {}
    if target == "AmazonSSM.PutParameter":
        name = body.get("Name")
        context["ssm:overwrite"] = "true" if body.get("Overwrite") else "false"
    elif body.get("ResourceType") == "Parameter":
        name = body.get("ResourceId")
    else:
        return None
    backend = ssm_backends[response.current_account][response.region]
    if not name or backend.get_parameter(name) is None:
        return {}, context
    return dict(backend._resource_tags.get("Parameter", {}).get(name, {})), context


def resource_tag_conditions_met(conditions, tags, prefix=SECRET_TAG_CONDITION_KEY, context=None):
    """Whether a statement's <prefix><key> resource-tag conditions (secretsmanager:ResourceTag/
    for a secret, ssm:resourceTag/ for a parameter) hold for a resource with tags, and its
    conditions on the keys of context hold for the request (the other conditions are moto's
    to evaluate). An operator the stand-in does not evaluate on a resource tag fails the
    condition: the stand-in allows no more than AWS."""
    context = context or {}
    for operator, entries in conditions.items():
        for key, expected in entries.items():
            if key.lower() in context:
                expected = [expected] if isinstance(expected, str) else list(expected)
                if operator != "StringEquals" or context[key.lower()] not in expected:
                    return False
                continue
            if not key.lower().startswith(prefix):
                continue
            expected = [expected] if isinstance(expected, str) else list(expected)
            value = tags.get(key[len(prefix):])
            if operator == "Null":
                met = (value is None) == (str(expected[0]).lower() == "true")
            elif operator == "StringEquals":
                met = value is not None and value in expected
            elif operator == "StringLike":
                met = value is not None and any(fnmatch.fnmatchcase(value, e) for e in expected)
            else:
                print(f"moto_server: condition {operator} on {key} is not evaluated: not met", file=sys.stderr)
                met = False
            if not met:
                return False
    return True


def ses_identities_as_aws():
    """Make SES v2 GetEmailIdentity say an identity whose verification succeeded is verified
    for sending, as AWS does (moto: VerificationStatus SUCCESS with VerifiedForSendingStatus
    false, which would read as a sender SES refuses)."""
    from moto.ses.models import EmailIdentity

    EmailIdentity.verified_for_sending_status = property(
        lambda self: self.verification_status == "SUCCESS",
        lambda self, value: None)  # moto's __init__ assigns False


# Account ID -> StatusReason of a member-role StackSet instance whose deployment failed there
# (POST /keyrotator/stack-instance-failed).
STACK_INSTANCE_FAILURES = {}
# The target OU (or root) through which a service-managed instance was deployed, by account.
INSTANCE_OUS = {}


def stack_sets_as_aws():
    """Make service-managed StackSets deploy where AWS deploys them: to every account of the
    target OUs and of every OU below them, never to the management account (moto: the OUs
    one level below only, and the management account too). An instance whose deployment
    failed in an account (stack_instance_failed) is listed as AWS lists it: Status
    OUTDATED, DetailedStatus FAILED and the reason. A service-managed instance names the
    target OU (or root) it was deployed through, OrganizationalUnitId, as AWS's does (moto:
    none)."""
    from moto.cloudformation import models as cfn
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult

    create = cfn.StackInstances.create_instances

    def targets(org, ous):
        below = set(ous)
        grown = True
        while grown:
            more = {ou.id for ou in org.ou if ou.parent_id in below} - below
            below |= more
            grown = bool(more)
        management = org.org.master_account_id
        return [a.id for a in org.accounts if a.parent_id in below and a.id != management]

    def create_instances(self, accounts, regions, parameters, deployment_targets, permission_model):
        if permission_model != "SERVICE_MANAGED":
            return create(self, accounts, regions, parameters, deployment_targets, permission_model)
        ous = deployment_targets.get("OrganizationalUnitIds", [])
        for ou in ous:
            for account in targets(self.org_backend, [ou]):
                INSTANCE_OUS.setdefault(account, ou)
        return create(self, targets(self.org_backend, ous), regions, parameters, {}, permission_model)

    cfn.StackInstances.create_instances = create_instances

    update = CloudFormationResponse.update_stack_instances

    def update_stack_instances(self):
        """UpdateStackInstances of a service-managed StackSet takes DeploymentTargets (moto
        reads Accounts only, so it updated nothing): the instances of the accounts below the
        OUs are deployed again, which is how a failed instance is retried. One that failed
        because a role of its name was there already fails again while that role is still
        there; any other succeeds (the stand-in deploys no template: the seeder makes the
        roles)."""
        stack_set = self.cloudformation_backend.describe_stack_set(self._get_param("StackSetName"))
        deployment = self._get_params().get("DeploymentTargets") or {}
        if stack_set.permission_model != "SERVICE_MANAGED":
            return update(self)
        if self._get_param("Accounts"):
            raise cfn.ValidationError(message="StackSets with SERVICE_MANAGED permission model can only have OrganizationalUnit as target")
        ous = deployment.get("OrganizationalUnitIds") or []
        if not ous:
            raise cfn.ValidationError(message="OrganizationalUnitIds are required")
        regions = self._get_param("Regions", [])
        for account in targets(stack_set.instances.org_backend, ous):
            if not any(stack_set.instances.get_instance(account, region) for region in regions):
                continue
            reason = STACK_INSTANCE_FAILURES.get(account)
            taken = ROLE_TAKEN_RE.search(reason or "")
            if taken and role_exists(account, taken.group(1)):
                continue
            STACK_INSTANCE_FAILURES.pop(account, None)
        operation = stack_set.update_instances([], regions, self._get_param("ParameterOverrides", []))
        return ActionResult({"OperationId": operation["OperationId"]})

    CloudFormationResponse.update_stack_instances = update_stack_instances

    to_dict = cfn.StackInstance.to_dict

    def summary(self):
        out = to_dict(self)
        if self.account_id in INSTANCE_OUS:
            out["OrganizationalUnitId"] = INSTANCE_OUS[self.account_id]
        reason = STACK_INSTANCE_FAILURES.get(self.account_id)
        if reason is not None:
            out.update(Status="OUTDATED", StatusReason=reason, StackInstanceStatus={"DetailedStatus": "FAILED"})
        return out

    cfn.StackInstance.to_dict = summary


# The StatusReason of an instance whose role's name was taken (sandbox.RoleTakenReason).
ROLE_TAKEN_RE = re.compile(r"ResourceStatusReason:(\S+) already exists\.")


def role_exists(account_id, name):
    """Whether a role of this name is in the account's IAM."""
    from moto.iam.exceptions import NotFoundException

    try:
        iam_backend(account_id).get_role(name)
        return True
    except NotFoundException:
        return False


def stack_instance_failed(body):
    """Make the StackSet instances of an account read as failed, with a reason."""
    for field in ("accountId", "statusReason"):
        if not isinstance(body.get(field), str) or not body[field]:
            raise BadRequest(400, f"{field}: required string")
    find_account(body["accountId"])
    STACK_INSTANCE_FAILURES[body["accountId"]] = body["statusReason"]
    return body


def sns_message_structure_as_aws():
    """Refuse a per-protocol SNS message as AWS does, and keep its MessageStructure.

    Publish with MessageStructure json requires a Message that is "a syntactically valid JSON
    object" with "at least a top-level JSON key of "default" with a value that is a string"
    (SNS API Reference, Publish); SNS answers InvalidParameter otherwise, whoever subscribes.
    moto parses the structure only while delivering to a subscription, so a topic without
    one (the stand-in's failure topic) took anything. And moto's record of a topic's sent
    notifications (data.json: message_id, message, subject, message_attributes, group_id)
    gains a sixth field, the MessageStructure ("json" or null): without it a reader cannot
    tell a per-protocol message from a plain one that happens to be JSON."""
    from moto.moto_api._internal import mock_random
    from moto.sns.exceptions import InvalidParameterValue
    from moto.sns.models import SNSBackend, Topic

    backend_publish = SNSBackend.publish

    def publish(self, message, arn=None, *args, message_structure=None, **kwargs):
        if message_structure == "json":
            try:
                structure = json.loads(message)
            except ValueError:
                raise InvalidParameterValue("Invalid parameter: Message Structure - JSON message body failed to parse")
            if not isinstance(structure, dict) or not isinstance(structure.get("default"), str):
                raise InvalidParameterValue("Invalid parameter: Message Structure - No default entry in JSON message body")
        return backend_publish(self, message, arn, *args, message_structure=message_structure, **kwargs)

    SNSBackend.publish = publish

    def topic_publish(self, message, subject=None, message_attributes=None, group_id=None,
                      deduplication_id=None, message_structure=None):
        # moto's Topic.publish, with message_structure kept in the record
        message_id = str(mock_random.uuid4())
        subscriptions, _ = self.sns_backend.list_subscriptions_by_topic(topic_arn=self.arn)
        for subscription in subscriptions:
            subscription.publish(message, message_id, subject=subject, message_attributes=message_attributes,
                                 group_id=group_id, deduplication_id=deduplication_id,
                                 message_structure=message_structure)
        self.sent_notifications.append((message_id, message, subject, message_attributes, group_id, message_structure))
        return message_id

    Topic.publish = topic_publish


IAM_TAGS_PER_USER = 50


def iam_user_tags_as_aws():
    """Keep IAM users' tags as AWS does: their keys "are not case sensitive, but case is
    preserved" (IAM User Guide, rules for tagging), so TagUser with a key that differs only in
    case replaces that tag and UntagUser removes a tag in whichever case it is given (moto
    compares keys exactly and would keep Exempt and exempt side by side); and a user holds at
    most 50 tags (TagUser beyond: LimitExceeded; moto has no quota)."""
    from moto.iam.exceptions import LimitExceededException
    from moto.iam.models import IAMBackend

    def tag_user(self, name, tags):
        user = self.get_user(name)
        merged = dict(self.tagger.get_tag_dict_for_resource(user.arn))
        for tag in tags:
            same = [k for k in merged if k.lower() == tag["Key"].lower()]
            value = tag.get("Value") or ""
            if same:  # replaced where it stands, under the key as given
                merged = {(tag["Key"] if k == same[0] else k): (value if k == same[0] else v) for k, v in merged.items()}
            else:
                merged[tag["Key"]] = value
        if len(merged) > IAM_TAGS_PER_USER:
            raise LimitExceededException(f"Cannot exceed quota for TagsPerUser: {IAM_TAGS_PER_USER}")
        self.tagger.delete_all_tags_for_resource(user.arn)
        self.tagger.tag_resource(user.arn, [{"Key": k, "Value": v} for k, v in merged.items()])

    def untag_user(self, name, tag_keys):
        user = self.get_user(name)
        lowered = {k.lower() for k in tag_keys}
        carried = self.tagger.get_tag_dict_for_resource(user.arn)
        self.tagger.untag_resource_using_names(user.arn, [k for k in carried if k.lower() in lowered])

    IAMBackend.tag_user = tag_user
    IAMBackend.untag_user = untag_user


# The top-level attributes BatchImportFindings requires of every finding (AwsSecurityFinding,
# Security Hub API reference), and those of each resource.
FINDING_REQUIRED = ("AwsAccountId", "CreatedAt", "Description", "GeneratorId", "Id", "ProductArn",
                    "Resources", "SchemaVersion", "Title", "UpdatedAt")
FINDINGS_PER_IMPORT = 100


def securityhub_imports_as_aws():
    """Import findings as Security Hub does (moto takes any finding with a resource, in any
    account, subscribed or not): the account must have Security Hub enabled
    (InvalidAccessException); a request holds 1 to 100 findings (InvalidInputException); a
    finding lacking a required attribute, of another account than the caller's, or under
    another product than the caller's default one
    (arn:<partition>:securityhub:<region>:<account>:product/<account>/default) fails alone
    (FailedFindings, InvalidInput); a finding provider cannot set Workflow on an existing
    finding (ignored, as AWS ignores it)."""
    from moto.securityhub.exceptions import InvalidInputException, SecurityHubClientError
    from moto.securityhub.models import Finding, SecurityHubBackend

    def batch_import_findings(self, findings):
        if not self.enabled:
            raise SecurityHubClientError("InvalidAccessException", "Account is not subscribed to AWS Security Hub")
        if not 1 <= len(findings) <= FINDINGS_PER_IMPORT:
            raise InvalidInputException(op="BatchImportFindings",
                                        msg=f"Findings must hold 1 to {FINDINGS_PER_IMPORT} findings")
        failed = []
        succeeded = 0
        for data in findings:
            missing = [name for name in FINDING_REQUIRED if not data.get(name)]
            missing += [f"Resources[{i}].{name}" for i, r in enumerate(data.get("Resources") or [])
                        for name in ("Id", "Type") if not r.get(name)]
            product = data.get("ProductArn", "")
            problem = ""
            if missing:
                problem = "missing " + ", ".join(missing)
            elif data["AwsAccountId"] != self.account_id:
                problem = f"AwsAccountId {data['AwsAccountId']} is not the caller's account {self.account_id}"
            elif not product.endswith(f":securityhub:{self.region_name}:{self.account_id}:product/{self.account_id}/default"):
                problem = f"ProductArn {product} is not the caller's default product"
            elif data["SchemaVersion"] != "2018-10-08":
                problem = f"SchemaVersion {data['SchemaVersion']}"
            if problem:
                failed.append({"Id": data.get("Id", ""), "ErrorCode": "InvalidInput", "ErrorMessage": problem})
                continue
            existing = next((f for f in self.findings if f.id == data["Id"]), None)
            if existing:
                update = {k: v for k, v in data.items() if k != "Workflow"}
                existing.data.update(update)
            else:
                self.findings.append(Finding(data["Id"], data))
            succeeded += 1
        return len(failed), succeeded, failed

    SecurityHubBackend.batch_import_findings = batch_import_findings


def answer_with_state_only():
    """Make Organizations describe accounts as AWS does since 2026-09-09: State, no Status."""
    from moto.organizations.models import FakeAccount

    original = FakeAccount.describe

    def describe(self):
        answer = original(self)
        answer.pop("Status", None)
        return answer

    FakeAccount.describe = describe


ORGANIZATIONS_PAGE = 20


def page_organizations_as_aws():
    """Page Organizations' List calls as AWS does: 20 entries at most, also by default
    (moto gives ListAccounts 100), and a MaxResults above 20 is a ValidationException."""
    import base64

    from moto.organizations.exceptions import OrganizationsClientError
    from moto.organizations.models import OrganizationsBackend
    from moto.organizations.utils import PAGINATION_MODEL

    def list_accounts(self, max_results=None, next_token=None):
        # moto describes and sorts every account for each page, so that listing 30,000
        # accounts 20 at a time took tens of minutes: a page here costs its 20 accounts.
        # self.accounts is in the order they joined (JoinedTimestamp, moto's order): each
        # is appended when it joins. The token names the next account by its index and ID.
        start = 0
        if next_token:
            try:
                index, account_id = base64.b64decode(next_token).decode().split(":")
                start = int(index)
            except ValueError:
                start, account_id = -1, ""
            if not (0 <= start < len(self.accounts) and self.accounts[start].id == account_id):
                start = next((i for i, a in enumerate(self.accounts) if a.id == account_id), -1)
            if start < 0:
                raise OrganizationsClientError("InvalidInputException", "You specified an invalid value for nextToken.")
        end = start + (max_results or ORGANIZATIONS_PAGE)
        page = [a.describe() for a in self.accounts[start:end]]
        token = None
        if end < len(self.accounts):
            token = base64.b64encode(f"{end}:{self.accounts[end].id}".encode()).decode()
        return page, token

    OrganizationsBackend.list_accounts = list_accounts
    for name in ("list_accounts", "list_accounts_for_parent", "list_organizational_units_for_parent"):
        PAGINATION_MODEL[name]["limit_default"] = ORGANIZATIONS_PAGE
        original = getattr(OrganizationsBackend, name)

        def bounded(self, *args, _original=original, **kwargs):
            limit = kwargs.get("max_results")
            if limit is not None and not 1 <= int(limit) <= ORGANIZATIONS_PAGE:
                raise OrganizationsClientError(
                    "ValidationException",
                    f"1 validation error detected: Value '{limit}' at 'maxResults' failed to satisfy "
                    f"constraint: Member must have value less than or equal to {ORGANIZATIONS_PAGE}")
            return _original(self, *args, **kwargs)

        setattr(OrganizationsBackend, name, bounded)


def organization_features_as_aws():
    """Organizations' feature set and delegated administrators as AWS has them (moto: no
    EnableAllFeatures, no handshakes; no delegated administrator for StackSets):

    - EnableAllFeatures, in an organization created with CONSOLIDATED_BILLING, answers its
      ENABLE_ALL_FEATURES handshake. That handshake goes to invited member accounts only:
      "created accounts do not receive this because ... approval is inferred" (Handshake,
      Organizations API reference); every account on the stand-in was created, so
      Organizations sends the management account the APPROVE_ALL_FEATURES handshake at once,
      which it lists (ListHandshakesForAccount) and accepts (AcceptHandshake, "only a
      principal from the management account") to finish: FeatureSet ALL from then on. An
      organization with all features, or one already on its way, refuses another
      (HandshakeConstraintViolationException, ORGANIZATION_ALREADY_HAS_ALL_FEATURES or
      ORGANIZATION_IS_ALREADY_PENDING_ALL_FEATURES_MIGRATION);
    - CloudFormation StackSets (member.org.stacksets.cloudformation.amazonaws.com) may have a
      delegated administrator, as AWS lists it among the services that support one;
    - EnableAWSServiceAccess and RegisterDelegatedAdministrator are refused until the
      organization has all features (ConstraintViolationException, reason
      ORGANIZATION_NOT_IN_ALL_FEATURES_MODE: "only if the organization has enabled all
      features", EnableAWSServiceAccess, Organizations API reference; moto: allowed in an
      organization of consolidated billing, where StackSets cannot deploy). A delegated
      administrator stays registered when trusted access is disabled, as on AWS, where it
      then cannot deploy ("trusted access ... must be activated before delegated
      administrators can deploy", CloudFormation user guide)."""
    import datetime as dt
    import json as _json

    from moto.core.utils import unix_time
    from moto.moto_api._internal import mock_random
    from moto.organizations.exceptions import OrganizationsClientError
    from moto.organizations.models import FakeDelegatedAdministrator, OrganizationsBackend
    from moto.organizations.responses import OrganizationsResponse

    if STACKSETS_PRINCIPAL not in FakeDelegatedAdministrator.SUPPORTED_SERVICES:
        FakeDelegatedAdministrator.SUPPORTED_SERVICES.append(STACKSETS_PRINCIPAL)

    def handshake(backend, action, parties):
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        hid = "h-" + "".join(mock_random.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(32))
        return {"Id": hid, "Arn": f"arn:aws:organizations::{backend.org.master_account_id}:handshake/{backend.org.id}/{action.lower()}/{hid}",
                "Parties": parties, "State": "OPEN", "Action": action, "Resources": [],
                "RequestedTimestamp": unix_time(now), "ExpirationTimestamp": unix_time(now + dt.timedelta(days=90))}

    def constraint(reason, message):
        return OrganizationsClientError("HandshakeConstraintViolationException", f"{message} (reason {reason})")

    def enable_all_features(self):
        if self.org is None:
            raise OrganizationsClientError("AWSOrganizationsNotInUseException",
                                           "Your account is not a member of an organization.")
        if self.org.feature_set == "ALL":
            raise constraint("ORGANIZATION_ALREADY_HAS_ALL_FEATURES", "The organization already has all features enabled.")
        handshakes = getattr(self, "handshakes", [])
        if any(h["Action"] == "ENABLE_ALL_FEATURES" and h["State"] in ("REQUESTED", "OPEN") for h in handshakes):
            raise constraint("ORGANIZATION_IS_ALREADY_PENDING_ALL_FEATURES_MIGRATION",
                             "The organization is already on its way to all features.")
        organization = {"Id": self.org.id, "Type": "ORGANIZATION"}
        enable = handshake(self, "ENABLE_ALL_FEATURES", [organization])
        approve = handshake(self, "APPROVE_ALL_FEATURES", [organization, {"Id": self.account_id, "Type": "ACCOUNT"}])
        self.handshakes = handshakes + [enable, approve]
        return enable

    def list_handshakes_for_account(self, action=None):
        return [h for h in getattr(self, "handshakes", [])
                if h["Action"] == "APPROVE_ALL_FEATURES" and (action is None or h["Action"] == action)]

    def accept_handshake(self, handshake_id):
        found = next((h for h in getattr(self, "handshakes", []) if h["Id"] == handshake_id), None)
        if found is None:
            raise OrganizationsClientError("HandshakeNotFoundException", "We can't find a handshake with the HandshakeId that you specified.")
        if found["Action"] != "APPROVE_ALL_FEATURES":
            raise OrganizationsClientError("AccessDeniedException", "Only an invited member account accepts this handshake.")
        if found["State"] != "OPEN":
            raise OrganizationsClientError("InvalidHandshakeTransitionException", f"The handshake is {found['State']}.")
        for h in self.handshakes:
            if h["State"] == "OPEN" and h["Action"] in ("ENABLE_ALL_FEATURES", "APPROVE_ALL_FEATURES"):
                h["State"] = "ACCEPTED"
        self.org.feature_set = "ALL"
        return found

    def all_features_first(original):
        def refuse_without_all_features(self, *args, **kwargs):
            if self.org is not None and self.org.feature_set != "ALL":
                raise OrganizationsClientError(
                    "ConstraintViolationException",
                    "The organization must have all features enabled for this operation "
                    "(reason ORGANIZATION_NOT_IN_ALL_FEATURES_MODE).")
            return original(self, *args, **kwargs)
        return refuse_without_all_features

    for name in ("enable_aws_service_access", "register_delegated_administrator"):
        setattr(OrganizationsBackend, name, all_features_first(getattr(OrganizationsBackend, name)))
    OrganizationsBackend.enable_all_features = enable_all_features
    OrganizationsBackend.list_handshakes_for_account = list_handshakes_for_account
    OrganizationsBackend.accept_handshake = accept_handshake

    OrganizationsResponse.enable_all_features = lambda self: _json.dumps(
        {"Handshake": self.organizations_backend.enable_all_features()})
    OrganizationsResponse.list_handshakes_for_account = lambda self: _json.dumps(
        {"Handshakes": self.organizations_backend.list_handshakes_for_account(
            (self._get_param("Filter") or {}).get("ActionType"))})
    OrganizationsResponse.accept_handshake = lambda self: _json.dumps(
        {"Handshake": self.organizations_backend.accept_handshake(self._get_param("HandshakeId"))})


STACKSETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"
MAX_BULK_ACCOUNTS = 100_000


def create_accounts(body):
    """Create count accounts in the organization's root at once, as CreateAccount creates
    each (state ACTIVE, joined CREATED, with OrganizationAccountAccessRole and the default
    policies), for an organization of tens of thousands of accounts: CreateAccount takes
    about 4 ms each over the wire (30,000: two minutes), and moto's own attaches the default
    policies by searching every account (quadratic). Answers the new accounts' IDs."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.organizations import utils
    from moto.organizations.models import FakeAccount, organizations_backends

    count, prefix = body.get("count"), body.get("namePrefix", "bulk")
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_BULK_ACCOUNTS:
        raise BadRequest(400, f"count: a whole number from 1 to {MAX_BULK_ACCOUNTS}")
    if not isinstance(prefix, str) or not prefix:
        raise BadRequest(400, "namePrefix: a non-empty string")
    backend = organizations_backends[DEFAULT_ACCOUNT_ID]["aws"]
    if backend.org is None:
        raise BadRequest(404, "no organization yet")
    policies = [backend.get_policy_by_id(p) for p in (utils.DEFAULT_SCP_POLICY_ID, utils.DEFAULT_RCP_POLICY_ID)]
    ids = []
    for i in range(count):
        account = FakeAccount(backend.org, AccountName=f"{prefix}-{i}", Email=f"{prefix}-{i}@example.com")
        backend.accounts.append(account)
        for policy in policies:
            account.attached_policies.append(policy)
            policy.attachments.append(account)
        organizations_backends.master_accounts[account.id] = (backend.account_id, backend.partition)
        ids.append(account.id)
    return {"accountIds": ids}


AUTHORIZATION_DETAILS_PAGE = 100
AUTHORIZATION_DETAILS_MAX_ITEMS = 1000


def page_authorization_details_as_aws():
    """Page IAM's GetAccountAuthorizationDetails as AWS does: MaxItems entries a page (100
    by default, 1 to 1,000), Marker to go on (moto answers with every entity at once, which
    would hide what reading every user's tags costs in a large account)."""
    from moto.core.responses import ActionResult
    from moto.iam.exceptions import ValidationError
    from moto.iam.responses import IamResponse

    lists = (("users", "UserDetailList"), ("groups", "GroupDetailList"),
             ("roles", "RoleDetailList"), ("managed_policies", "Policies"))

    def get_account_authorization_details(self):
        limit = int(self._get_param("MaxItems") or AUTHORIZATION_DETAILS_PAGE)
        if not 1 <= limit <= AUTHORIZATION_DETAILS_MAX_ITEMS:
            raise ValidationError(
                f"1 validation error detected: Value '{limit}' at 'maxItems' failed to satisfy "
                f"constraint: Member must have value less than or equal to {AUTHORIZATION_DETAILS_MAX_ITEMS}")
        marker = self._get_param("Marker")
        start = int(marker) if marker and marker.isdigit() else 0
        details = self.backend.get_account_authorization_details(self._get_param("Filter", []))
        entries = [(field, e) for name, field in lists for e in details[name]]
        result = {field: [] for _, field in lists}
        for field, entry in entries[start:start + limit]:
            result[field].append(entry)
        result["IsTruncated"] = start + limit < len(entries)
        if result["IsTruncated"]:
            result["Marker"] = str(start + limit)
        return ActionResult(result)

    IamResponse.get_account_authorization_details = get_account_authorization_details


REPORT_LIFETIME = datetime.timedelta(hours=4)
MAX_REPORT_AGE_HOURS = 168  # a week: past 4 hours, any age reads the same (regenerated)


class ReportCache:
    """Credential reports kept as IAM keeps them: per account, regenerated at most every
    4 hours. Off until enable(): then moto's live report is what a fresh one holds."""

    def __init__(self):
        self.lock = threading.Lock()
        self.enabled = False
        self.reports = {}  # account ID -> (generated time, CSV)

    def enable(self, hours_ago):
        """Cache every account's report as generated hours_ago hours before now."""
        from moto.core.utils import utcnow
        from moto.iam.models import iam_backends

        if not isinstance(hours_ago, (int, float)) or isinstance(hours_ago, bool) \
                or not 0 <= hours_ago <= MAX_REPORT_AGE_HOURS:
            raise BadRequest(400, "hoursAgo: must be a number of hours from 0 to %d" % MAX_REPORT_AGE_HOURS)
        generated = utcnow() - datetime.timedelta(hours=hours_ago)
        with self.lock:
            self.enabled = True
            for account_id in list(iam_backends.keys()):
                backend = iam_backends[account_id]["aws"]
                backend.generate_report()
                self.reports[account_id] = (generated, backend.get_credential_report())
            return {"accounts": len(self.reports), "generatedTime": generated.isoformat() + "Z"}

    def generate(self, account_id, backend):
        """GenerateCredentialReport: COMPLETE while the cached report is under 4 hours old;
        else a new report (STARTED, as IAM answers the first request)."""
        from moto.core.utils import utcnow

        with self.lock:
            cached = self.reports.get(account_id)
            if cached is not None and utcnow() - cached[0] < REPORT_LIFETIME:
                return "COMPLETE"
            backend.generate_report()
            self.reports[account_id] = (utcnow(), backend.get_credential_report())
            return "STARTED"

    def get(self, account_id):
        with self.lock:
            return self.reports.get(account_id)


REPORTS = ReportCache()


def patch_credential_report():
    """Make moto's credential report match AWS's where moto hard-codes values, and serve
    cached reports once REPORTS is enabled."""
    from moto.core.utils import utcnow
    from moto.iam.exceptions import ReportNotPresentException
    from moto.iam.models import User
    from moto.iam.responses import IamResponse
    from moto.core.responses import ActionResult

    original_response = IamResponse.get_credential_report
    original_generate = IamResponse.generate_credential_report

    def generate_credential_report(self):
        if not REPORTS.enabled:
            return original_generate(self)
        return ActionResult({"State": REPORTS.generate(self.current_account, self.backend)})

    def get_credential_report(self):
        if REPORTS.enabled:
            cached = REPORTS.get(self.current_account)
            if cached is None:
                raise ReportNotPresentException("Credential report not present")
            return ActionResult({"Content": cached[1], "ReportFormat": "text/csv",
                                 "GeneratedTime": cached[0]})
        result = original_response(self)
        # moto builds the CSV from live data on every request: it was generated now.
        result.result["GeneratedTime"] = utcnow()
        return result

    original_csv = User.to_csv

    def to_csv(self):
        fields = original_csv(self).rstrip("\n").split(",")
        # Column indexes of the report header, see IAMBackend.get_credential_report.
        for i, (rotated_col, region_col, service_col) in enumerate(((9, 11, 12), (14, 16, 17))):
            used = self.access_keys[i].last_used if i < len(self.access_keys) else None
            fields[region_col] = used.region if used is not None else "N/A"
            fields[service_col] = used.service if used is not None else "N/A"
            # AWS: last_rotated is N/A when the key is not active.
            if i < len(self.access_keys) and self.access_keys[i].status != "Active":
                fields[rotated_col] = "N/A"
        if not self.password:
            fields[5] = "N/A"  # password_last_changed
        return ",".join(fields) + "\n"

    IamResponse.get_credential_report = get_credential_report
    IamResponse.generate_credential_report = generate_credential_report
    User.to_csv = to_csv


class SESSandbox:
    """SES as in an account without production access: only verified identities receive
    mail (others: MessageRejected), at most max_send_rate messages per second per account
    (0: no limit; over it: TooManyRequestsException). Off until enable()."""

    def __init__(self):
        self.lock = threading.Lock()
        self.enabled = False
        self.max_send_rate = 0
        self.last_sends = {}  # account ID -> send times (monotonic) of the last second
        # Epoch seconds of the messages accepted in the last 24 hours, oldest first, for
        # SentLast24Hours (dropped from the left as they age: constant time a message).
        self.accepted_times = collections.deque()
        self.suppressed_reasons = ["BOUNCE", "COMPLAINT"]  # PutAccountSuppressionAttributes
        self.sending_enabled = True  # PutAccountSendingAttributes
        self.details = None  # PutAccountDetails

    def enable(self, body):
        rate = body.get("maxSendRate", 0)
        if not isinstance(rate, int) or isinstance(rate, bool) or rate < 0:
            raise BadRequest(400, "maxSendRate: must be a whole number of messages per second, 0 for no limit")
        with self.lock:
            self.enabled, self.max_send_rate = True, rate
        return {"sesSandbox": True, "maxSendRate": rate}

    def check_rate(self, account_id):
        if not self.max_send_rate:
            return True
        with self.lock:
            now = time.monotonic()
            recent = [t for t in self.last_sends.get(account_id, []) if now - t < 1.0]
            if len(recent) >= self.max_send_rate:
                self.last_sends[account_id] = recent
                return False
            self.last_sends[account_id] = recent + [now]
            return True

    def accepted(self, now):
        """Record that SES accepted a message received at now (epoch seconds); return that
        time as RFC 3339 (UTC, microseconds)."""
        with self.lock:
            while self.accepted_times and now - self.accepted_times[0] >= 86400:
                self.accepted_times.popleft()
            self.accepted_times.append(now)
        return datetime.datetime.fromtimestamp(now, datetime.timezone.utc).isoformat().replace("+00:00", "Z")

    def account(self):
        """SES v2 GetAccount's answer: the sandbox's quota once enabled, else production's."""
        with self.lock:
            sandboxed, rate = self.enabled, self.max_send_rate
            now = time.time()
            sent = sum(1 for t in self.accepted_times if now - t < 86400)
            reasons = list(self.suppressed_reasons)
        quota = {"Max24HourSend": 200.0, "MaxSendRate": float(rate or 1)} if sandboxed else \
            {"Max24HourSend": 50000.0, "MaxSendRate": 14.0}
        quota["SentLast24Hours"] = float(sent)
        answer = {"ProductionAccessEnabled": not sandboxed, "SendingEnabled": self.sending_enabled,
                  "EnforcementStatus": "HEALTHY", "DedicatedIpAutoWarmupEnabled": False,
                  "SendQuota": quota, "SuppressionAttributes": {"SuppressedReasons": reasons}}
        if self.details is not None:
            answer["Details"] = dict(self.details)
        return answer

    def put_sending_attributes(self, body):
        """SES v2 PutAccountSendingAttributes: the account pauses or resumes its own sending
        (AWS pauses none here: EnforcementStatus stays HEALTHY). While paused, SendEmail
        answers SendingPausedException (pause_sesv2_sending)."""
        enabled = body.get("SendingEnabled", False)
        if not isinstance(enabled, bool):
            raise BadRequest(400, "SendingEnabled: must be a boolean")
        with self.lock:
            self.sending_enabled = enabled
        return {}

    def put_details(self, body):
        """SES v2 PutAccountDetails: MailType (MARKETING or TRANSACTIONAL) and WebsiteURL are
        required. With ProductionAccessEnabled, AWS reviews the request (ReviewDetails
        PENDING, within a day) and, granted, takes the account out of the sandbox; the
        stand-in's review grants it at once: from then on SES sends to any address, at
        production's quota."""
        mail_type, website = body.get("MailType"), body.get("WebsiteURL")
        if mail_type not in ("MARKETING", "TRANSACTIONAL"):
            raise BadRequest(400, "MailType: must be MARKETING or TRANSACTIONAL")
        if not isinstance(website, str) or not 1 <= len(website) <= 1000:
            raise BadRequest(400, "WebsiteURL: required, 1 to 1000 characters")
        production = body.get("ProductionAccessEnabled")
        if production is not None and not isinstance(production, bool):
            raise BadRequest(400, "ProductionAccessEnabled: must be a boolean")
        details = {"MailType": mail_type, "WebsiteURL": website}
        for field in ("ContactLanguage", "UseCaseDescription", "AdditionalContactEmailAddresses"):
            if field in body:
                details[field] = body[field]
        with self.lock:
            if production:
                details["ReviewDetails"] = {"Status": "GRANTED", "CaseId": "stand-in"}
                self.enabled, self.max_send_rate = False, 0
            self.details = details
        return {}

    def put_suppression_attributes(self, body):
        """SES v2 PutAccountSuppressionAttributes: the reasons, BOUNCE and/or COMPLAINT."""
        reasons = body.get("SuppressedReasons", [])
        if not isinstance(reasons, list) or any(r not in ("BOUNCE", "COMPLAINT") for r in reasons):
            raise BadRequest(400, "SuppressedReasons: a list of BOUNCE and COMPLAINT")
        with self.lock:
            self.suppressed_reasons = list(dict.fromkeys(reasons))
        return {}


SES_SANDBOX = SESSandbox()

# The SES v2 account-level writes moto lacks, by method and path.
SES_ACCOUNT_WRITES = {
    ("PUT", SES_ACCOUNT_SUPPRESSION): SES_SANDBOX.put_suppression_attributes,
    ("PUT", SES_ACCOUNT_SENDING): SES_SANDBOX.put_sending_attributes,
    ("POST", SES_ACCOUNT_DETAILS): SES_SANDBOX.put_details,
}

# REQUEST.arrived is when the request this thread serves reached the server: a message is
# stamped with it, not with the time moto got round to it.
REQUEST = threading.local()


# SES v2 SendEmail takes a message of at most 40 MB, whole, "after base64 encoding" (SES v1:
# 10 MB), a quota that cannot be raised: "Service quotas in Amazon SES", Message quotas,
# https://docs.aws.amazon.com/ses/latest/dg/quotas.html. Counted here as 40,000,000 bytes of
# the raw MIME message (its attachments base64-encoded in it), the stricter reading of "MB".
SESV2_MAX_MESSAGE_BYTES = 40_000_000


def limit_sesv2_message_size():
    """Make SES v2 SendEmail refuse a message over SESV2_MAX_MESSAGE_BYTES, as SES does (moto
    takes any size). The error is an assumption: neither the quotas page nor the SES v2 API
    reference names one for an over-size message; SendEmail documents MessageRejected (HTTP
    400, "the message can't be sent because it contains invalid content") for a message it
    refuses, and SES's "email sending errors" page says a refused send answers MessageRejected
    or a common error, so MessageRejected it is."""
    from moto.ses.exceptions import MessageRejectedError
    from moto.sesv2.models import SESV2Backend

    original = SESV2Backend.send_raw_email

    def send_raw_email(self, source, destinations, raw_data):
        size = len(raw_data.encode("utf-8"))
        if size > SESV2_MAX_MESSAGE_BYTES:
            raise MessageRejectedError(
                f"Message is {size} bytes long: SES v2 sends at most {SESV2_MAX_MESSAGE_BYTES} bytes")
        return original(self, source, destinations, raw_data)

    SESV2Backend.send_raw_email = send_raw_email


def pause_sesv2_sending():
    """Make SES v2 SendEmail refuse every message while the account's sending is paused
    (PutAccountSendingAttributes SendingEnabled false), as SES does: SendingPausedException,
    "the message can't be sent because the account's ability to send email is currently
    paused" (SES v2 API reference, SendEmail errors). moto has no such switch."""
    from moto.core.exceptions import ServiceException
    from moto.sesv2.models import SESV2Backend

    class SendingPaused(ServiceException):
        code = "SendingPausedException"

    for name in ("send_email", "send_raw_email"):
        original = getattr(SESV2Backend, name)

        def refuse_while_paused(self, *args, _original=original, **kwargs):
            if not SES_SANDBOX.sending_enabled:
                raise SendingPaused("The message can't be sent because the account's ability to send email is currently paused.")
            return _original(self, *args, **kwargs)

        setattr(SESV2Backend, name, refuse_while_paused)


def patch_sesv2_configuration_set():
    """Make SES v2 GetConfigurationSet answer as AWS does. moto keeps CreateConfigurationSet's
    SendingOptions object where SendingEnabled's boolean belongs ({"SendingEnabled": {...}},
    which the Go SDK cannot read at all), and answers every option it was not given as an
    empty object: an empty SuppressionOptions would read as a set that overrides the account's
    suppression settings with no reason, where a set created without them does not override."""
    from moto.ses.models import ConfigurationSet

    def to_dict_v2(self):
        sending = self.enabled if isinstance(self.enabled, dict) else {"SendingEnabled": bool(self.enabled)}
        out = {"ConfigurationSetName": self.configuration_set_name,
               "SendingOptions": {"SendingEnabled": bool(sending.get("SendingEnabled", True))},
               "Tags": self.tags}
        for field, value in (("TrackingOptions", self.tracking_options), ("DeliveryOptions", self.delivery_options),
                             ("ReputationOptions", self.reputation_options),
                             ("SuppressionOptions", self.suppression_options), ("VdmOptions", self.vdm_options)):
            if value:
                out[field] = value
        return out

    ConfigurationSet.to_dict_v2 = to_dict_v2


def patch_ses_sandbox():
    """Make SES send as AWS does in the sandbox once SES_SANDBOX is enabled, and stamp every
    accepted message with the time it was received."""
    from email import message_from_string
    from email.utils import getaddresses, parseaddr

    from moto.core.exceptions import ServiceException
    from moto.ses.exceptions import MessageRejectedError
    from moto.ses.models import SESBackend

    class TooManyRequests(ServiceException):
        code = "TooManyRequestsException"

    original = SESBackend.send_raw_email

    def send_raw_email(self, source, destinations, raw_data):
        received = getattr(REQUEST, "arrived", None) or time.time()
        if SES_SANDBOX.enabled:
            message = message_from_string(raw_data)
            headers = [message[h] for h in ("To", "Cc", "Bcc") if message[h]]
            recipients = [parseaddr(d)[1] for d in destinations] + \
                [addr for _, addr in getaddresses(headers) if addr]
            unverified = sorted({r for r in recipients if not self._is_verified_address(r)})
            if unverified:
                raise MessageRejectedError(
                    "Email address is not verified. The following identities failed the check "
                    f"in region {self.region_name.upper()}: {', '.join(unverified)}")
            if not SES_SANDBOX.check_rate(self.account_id):
                raise TooManyRequests("Maximum sending rate exceeded.")
        message = original(self, source, destinations, raw_data)
        message.sent_at = SES_SANDBOX.accepted(received)
        return message

    SESBackend.send_raw_email = send_raw_email


SES_PAGE_LIMIT = (100, 1000)  # messages a page: default, most
SES_PAGE_BYTES = (8 << 20, 32 << 20)  # raw MIME bytes a page past its first message: default, most


def query_int(query, name, default, low, high):
    """The whole number query[name] (default when absent), refused outside low..high."""
    values = query.get(name)
    if not values:
        return default
    try:
        value = int(values[0])
    except ValueError:
        raise BadRequest(400, f"{name}: must be a whole number") from None
    if not low <= value <= high:
        raise BadRequest(400, f"{name}: must be {low} to {high}")
    return value


def ses_messages(environ):
    """A page of the raw messages SES accepted, in order (GET /keyrotator/ses-messages).

    moto lists them in RawMessage.instances_tracked, appended as each is made (what
    data.json lists under ses.RawMessage); a message is stamped sent_at just after, so one
    read while it is being sent may have none yet."""
    from urllib.parse import parse_qs

    from moto.ses.models import RawMessage

    query = parse_qs(environ.get("QUERY_STRING", ""))
    total, start, page = paged(query, RawMessage.instances_tracked, lambda m: (
        {"id": m.id, "source": m.source, "destinations": list(m.destinations),
         "raw_data": m.raw_data, "sent_at": getattr(m, "sent_at", None)}, len(m.raw_data)))
    return {"total": total, "next": start + len(page), "messages": page}


def paged(query, items, entry):
    """One page of items from the query's from, at most limit of them and, past the first,
    no more than maxBytes (entry gives each one's JSON value and its size): (total, from,
    page). The list is read once, by its length first, so that items appended meanwhile
    wait for the next page."""
    total = len(items)
    start = query_int(query, "from", 0, 0, total)
    limit = query_int(query, "limit", SES_PAGE_LIMIT[0], 0, SES_PAGE_LIMIT[1])
    max_bytes = query_int(query, "maxBytes", SES_PAGE_BYTES[0], 1, SES_PAGE_BYTES[1])
    page, size = [], 0
    for item in items[start:min(start + limit, total)]:
        value, n = entry(item)
        size += n
        if page and size > max_bytes:
            break
        page.append(value)
    return total, start, page


def model_instances(environ):
    """A page of the instances of one of moto's models (GET /keyrotator/model): what
    data.json lists under service.name, with the same attributes (every public one that
    JSON takes), without the rest of the state."""
    from urllib.parse import parse_qs

    from moto.core.model_instances import model_data

    query = parse_qs(environ.get("QUERY_STRING", ""))
    service = (query.get("service") or [""])[0]
    name = (query.get("name") or [""])[0]
    model = model_data.get(service, {}).get(name)
    if model is None:
        raise BadRequest(404, f"model {service}.{name}: moto has no such model")

    def entry(instance):
        # As moto_api's model_data (data.json) does, attribute by attribute.
        value = {}
        for attr in dir(instance):
            if attr.startswith("_"):
                continue
            try:
                v = getattr(instance, attr)
                json.dumps(v)
            except (TypeError, AttributeError, ValueError):
                continue
            value[attr] = v
        return value, len(json.dumps(value))

    total, start, page = paged(query, model.instances_tracked, entry)
    return {"total": total, "next": start + len(page), "instances": page}


class KeyRotatorApp:
    """WSGI middleware: serves /keyrotator/ itself and hands everything else to moto."""

    def __init__(self, moto_app):
        self.moto_app = moto_app
        self.lock = threading.Lock()
        self.settings = None
        self.suppressed = {}  # address (lower case) -> SuppressedDestination

    def __call__(self, environ, start_response):
        REQUEST.arrived = time.time()  # moto handles the request in this thread
        path = environ.get("PATH_INFO", "")
        headers = [("Content-Type", "application/json")]
        if path == SES_ACCOUNT and environ["REQUEST_METHOD"] == "GET":
            status, payload = 200, SES_SANDBOX.account()
        elif (environ["REQUEST_METHOD"], path) in SES_ACCOUNT_WRITES:
            try:
                write = SES_ACCOUNT_WRITES[(environ["REQUEST_METHOD"], path)]
                status, payload = 200, write(read_json(environ, empty_ok=True))
            except BadRequest as err:
                status, payload = err.status, {"message": str(err)}
                headers.append(("x-amzn-ErrorType", "BadRequestException"))
        elif path.startswith(SUPPRESSION):
            try:
                status, payload = self.suppression(environ["REQUEST_METHOD"],
                                                   path[len(SUPPRESSION):], environ)
            except BadRequest as err:
                code = {404: "NotFoundException"}.get(err.status, "BadRequestException")
                status, payload = err.status, {"message": str(err)}
                headers.append(("x-amzn-ErrorType", code))
        elif path.startswith(PREFIX):
            try:
                status, payload = self.route(environ["REQUEST_METHOD"], path[len(PREFIX):],
                                             environ)
            except BadRequest as err:
                status, payload = err.status, {"error": str(err)}
        else:
            return self.moto_app(environ, start_response)
        data = json.dumps(payload).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found",
                  405: "Method Not Allowed"}.get(status, "Error")
        start_response(f"{status} {reason}", headers + [("Content-Length", str(len(data)))])
        return [data]

    def suppression(self, method, rest, environ):
        """SES v2 PutSuppressedDestination, GetSuppressedDestination, DeleteSuppressedDestination."""
        from urllib.parse import unquote
        address = unquote(rest.lstrip("/")).lower()
        with self.lock:
            if method == "PUT" and not address:
                body = read_json(environ)
                email, why = str(body.get("EmailAddress", "")), body.get("Reason")
                if "@" not in email or why not in ("BOUNCE", "COMPLAINT"):
                    raise BadRequest(400, "EmailAddress and Reason (BOUNCE or COMPLAINT) are required")
                self.suppressed[email.lower()] = {
                    "EmailAddress": email, "Reason": why,
                    "LastUpdateTime": datetime.datetime.now(datetime.timezone.utc).timestamp()}
                return 200, {}
            if method in ("GET", "DELETE") and address:
                entry = self.suppressed.get(address)
                if entry is None:
                    raise BadRequest(404, f"{address} is not on the suppression list")
                if method == "DELETE":
                    del self.suppressed[address]
                    return 200, {}
                return 200, {"SuppressedDestination": entry}
        raise BadRequest(400, f"{method} {SUPPRESSION}{rest}: not supported by the stand-in")

    def route(self, method, name, environ):
        if name == "health" and method == "GET":
            return 200, {"status": "ok"}
        if name == "settings" and method == "GET":
            with self.lock:
                if self.settings is None:
                    raise BadRequest(404, "settings: no scenario seeded yet")
                return 200, self.settings
        if name == "ses-messages" and method == "GET":
            return 200, ses_messages(environ)
        if name == "model" and method == "GET":
            return 200, model_instances(environ)
        if name == "settings" and method == "PUT":
            body = read_json(environ)
            with self.lock:
                self.settings = body
            return 200, body
        if name == "backdate" and method == "POST":
            return 200, backdate(read_json(environ))
        if name == "users" and method == "POST":
            return 200, create_users(read_json(environ))
        if name == "account-name" and method == "POST":
            return 200, rename_account(read_json(environ))
        if name == "account-state" and method == "POST":
            return 200, set_account_state(read_json(environ))
        if name == "credential-reports" and method == "POST":
            return 200, REPORTS.enable(read_json(environ).get("hoursAgo"))
        if name == "ses-sandbox" and method == "POST":
            return 200, SES_SANDBOX.enable(read_json(environ))
        if name == "stack-instance-failed" and method == "POST":
            return 200, stack_instance_failed(read_json(environ))
        if name == "accounts" and method == "POST":
            return 200, create_accounts(read_json(environ))
        if name in ("health", "settings", "backdate", "users", "account-name", "account-state",
                    "credential-reports", "ses-sandbox", "stack-instance-failed", "ses-messages",
                    "model", "accounts"):
            raise BadRequest(405, f"{method} {PREFIX}{name}: method not allowed")
        raise BadRequest(404, f"{PREFIX}{name}: no such endpoint")


def read_json(environ, empty_ok=False):
    """The request's JSON object body; with empty_ok, no body at all reads as {} (the AWS
    SDKs send none for an input whose every member is left out)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise BadRequest(400, "Content-Length: not a number") from None
    if length == 0 and empty_ok:
        return {}
    if length <= 0 or length > MAX_BODY:
        raise BadRequest(400, f"body: must be a JSON object of at most {MAX_BODY} bytes")
    try:
        body = json.loads(environ["wsgi.input"].read(length))
    except ValueError as err:
        raise BadRequest(400, f"body: {err}") from None
    if not isinstance(body, dict):
        raise BadRequest(400, "body: must be a JSON object")
    return body


class StandInServer(ThreadedMotoServer):
    """ThreadedMotoServer whose WSGI app is wrapped by KeyRotatorApp.

    The parent's start() waits for an event that its thread sets only after binding;
    a failed bind would leave it waiting forever, so the error is kept and re-raised.
    """

    def __init__(self, port):
        super().__init__(ip_address="127.0.0.1", port=port, verbose=False)
        self.start_error = None

    def _server_entry(self):
        try:
            app = KeyRotatorApp(DomainDispatcherApplication(create_backend_app))
            self._server = make_server(self._ip_address, self._port, app, True,
                                       request_handler=MotoRequestHandler)
        except BaseException as err:  # noqa: BLE001 - werkzeug exits on a taken port
            self.start_error = err
            self._server_ready_event.set()
            return
        self._server_ready_event.set()
        # A short poll interval makes stop() return in a tenth of a second, not half.
        self._server.serve_forever(poll_interval=0.1)

    def start(self):
        super().start()
        if self.start_error is not None:
            raise self.start_error


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Run the local AWS stand-in (moto) on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0,
                        help="TCP port on 127.0.0.1 (0: any free port; default 0)")
    parser.add_argument("--verbose", action="store_true",
                        help="log every request to stderr")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port}: must be 0..65535")
    if not args.verbose:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    find_accounts_in_constant_time()
    require_existing_roles()
    answer_with_state_only()
    page_organizations_as_aws()
    organization_features_as_aws()
    page_authorization_details_as_aws()
    enforce_iam_as_aws()
    iam_user_tags_as_aws()
    sns_message_structure_as_aws()
    ses_identities_as_aws()
    stack_sets_as_aws()
    patch_credential_report()
    patch_ses_sandbox()
    limit_sesv2_message_size()
    pause_sesv2_sending()
    patch_sesv2_configuration_set()
    securityhub_imports_as_aws()
    server = StandInServer(args.port)
    try:
        server.start()
    except BaseException as err:  # noqa: BLE001 - SystemExit from werkzeug included
        print(f"moto_server: listen on 127.0.0.1:{args.port}: {err!r}", file=sys.stderr)
        return 1
    host, port = server.get_host_and_port()
    print(f"listening http://{host}:{port}", flush=True)
    while not stop.wait(0.1):
        pass
    server.stop()
    print("moto_server: stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
