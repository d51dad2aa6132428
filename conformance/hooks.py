"""Schemathesis hooks for openmonime's schema-driven fuzzing (loaded by conformance/run.sh through
SCHEMATHESIS_HOOKS).

`openmonime_error_envelope` is the project's own check: every 4xx answer must be the error envelope
documented in docs/api.md, whatever schema the run was started with (Monime's official document
describes only the 200 answers, so no built-in check looks at the errors there):

    {"success": false, "messages": [],
     "error": {"code": <the HTTP status>, "reason": "<snake_case>", "message": "<text>", "details": [...]}}
"""

import os
import re
import zlib

import schemathesis

REASON = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
ENVELOPE_KEYS = {"success", "messages", "error"}
ERROR_KEYS = {"code", "reason", "message", "details"}


@schemathesis.check
def openmonime_error_envelope(ctx, response, case):
    """Every 4xx is `{"success": false, "messages": [], "error": {code, reason, message, details}}`."""
    status = response.status_code
    if not 400 <= status < 500:
        return None
    content_type = response.headers.get("content-type", [""])
    if isinstance(content_type, list):
        content_type = content_type[0] if content_type else ""
    if not content_type.lower().startswith("application/json"):
        raise AssertionError(f"{status} answered with Content-Type {content_type!r}, not application/json")
    try:
        body = response.json()
    except Exception as exc:  # noqa: BLE001 - any decoding failure is the finding
        raise AssertionError(f"{status} body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise AssertionError(f"{status} body is not a JSON object: {body!r}")
    if set(body) != ENVELOPE_KEYS:
        raise AssertionError(f"{status} envelope keys are {sorted(body)}, expected {sorted(ENVELOPE_KEYS)}")
    if body["success"] is not False:
        raise AssertionError(f"{status} envelope has success={body['success']!r}, expected false")
    if body["messages"] != []:
        raise AssertionError(f"{status} envelope has messages={body['messages']!r}, expected []")
    error = body["error"]
    if not isinstance(error, dict) or set(error) != ERROR_KEYS:
        keys = sorted(error) if isinstance(error, dict) else type(error).__name__
        raise AssertionError(f"{status} `error` is {keys}, expected an object with {sorted(ERROR_KEYS)}")
    code = error["code"]
    if type(code) is not int or code != status:
        raise AssertionError(f"{status} `error.code` is {code!r}, expected the HTTP status {status}")
    reason = error["reason"]
    if not isinstance(reason, str) or not REASON.match(reason):
        raise AssertionError(f"{status} `error.reason` is {reason!r}, expected a snake_case word")
    if not isinstance(error["message"], str) or not error["message"].strip():
        raise AssertionError(f"{status} `error.message` is {error['message']!r}, expected a non-empty string")
    if not isinstance(error["details"], list):
        raise AssertionError(f"{status} `error.details` is {error['details']!r}, expected an array")
    return None


# Steering towards real objects. Left alone, the generator almost never names an account that
# exists, a currency we hold (SLE, USD), a permission word or a role, so the happy paths behind
# them (a completed transfer, a new token to revoke or rotate, a member to re-role or remove) would
# be reached by chance only. `before_call` therefore swaps some values of schema-valid (positive)
# cases for real ones: a string only for another string the document equally allows (within the
# same length limit), an integer for another integer, a declared property added where the document
# makes it optional, so the case stays valid. Cases made invalid on purpose (negative mode) go out
# exactly as generated, so every check judges them as before. Each choice is a function of the
# generated value (crc32), so a seed reproduces a run.
ACCOUNTS = [a for a in os.environ.get("OPENMONIME_FUZZ_ACCOUNTS", "").split(",") if a]
SPACE = os.environ.get("OPENMONIME_FUZZ_SPACE")
MONIMEER = os.environ.get("OPENMONIME_FUZZ_MONIMEER")
CURRENCIES = ["SLE", "SLE", "USD"]
PERMISSIONS = [
    "financial-accounts:read",
    "financial-accounts:*",
    "internal-transfers:write",
    "financial-transactions:read",
    "access-tokens:*",
    "*",
]
ROLES = ["viewer", "developer", "admin", "owner"]
PHONES = ["+23276000001", "076000002", "+23277000091", "+23277000093"]
# Payout destinations of the test rail: an ordinary number, a slow one and one that fails.
PAYOUT_PHONES = ["+23276000001", "076000002", "+23276000101", "+23276000103"]
DURATIONS = ["10m", "1h30m", "30s", "2d"]
MOMOS = ["m17", "m18"]
CIDRS = ["127.0.0.1/32", "0.0.0.0/0", "::1/128"]


def _pick(value, choices, max_length=None):
    """`value` or one of `choices` (it, one time in len(choices) + 1), when `value` is a string."""
    if not isinstance(value, str) or (max_length is not None and len(value) > max_length):
        return value
    options = [*choices, value]
    return options[zlib.crc32(value.encode("utf-8", "surrogatepass")) % len(options)]


def _swap(body, key, choices, max_length=None):
    if key in body:
        body[key] = _pick(body[key], choices, max_length)


def _swap_items(body, key, choices):
    if isinstance(body.get(key), list):
        body[key] = [_pick(item, choices) for item in body[key]]


def _swap_metadata(body):
    """An object the document allows (at most 64 properties) may become one we accept too: string
    values of at most 100 characters under keys of at most 64. Anything else is left as generated."""
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and len(metadata) <= 64:
        if zlib.crc32(repr(sorted(metadata.items(), key=repr)).encode("utf-8", "surrogatepass")) % 2:
            body["metadata"] = {str(k)[:64]: str(v)[:100] for k, v in metadata.items()}


def _steer_idempotency_key(case):
    """Generated keys repeat across different bodies, so most creates end in a 409. Half the keys
    become one derived from the key and the body: still a string of at most 64 characters, the
    same for a retry of the same request (a replay) and different for a different one."""
    headers = case.headers or {}
    key = headers.get("Idempotency-Key")
    if isinstance(key, str) and len(key) <= 64:
        digest = zlib.crc32(repr((key, case.body)).encode("utf-8", "surrogatepass"))
        if digest % 2:
            headers["Idempotency-Key"] = f"fuzz-{digest:08x}"


def _steer(label, case):
    if case.meta is not None and case.meta.generation.mode.is_negative:
        return  # a case made invalid on purpose goes out exactly as generated
    if label in (
        "POST /v1/financial-accounts",
        "POST /v1/internal-transfers",
        "POST /v1/payment-codes",
        "POST /v1/ussd-otps",
        "POST /v1/test-helpers/ussd/dial",
        "POST /v1/payouts",
    ):
        _steer_idempotency_key(case)
    path_parameters = case.path_parameters or {}
    if MONIMEER and label in ("PATCH /v1/space-members/{id}", "DELETE /v1/space-members/{id}"):
        # The path pattern is `^mmr-.*$`: only a value that already matches it is swapped.
        member = path_parameters.get("id")
        if isinstance(member, str) and member.startswith("mmr-"):
            path_parameters["id"] = _pick(member, [MONIMEER])
    body = case.body
    if not isinstance(body, dict):
        return
    if label in (
        "POST /v1/financial-accounts",
        "PATCH /v1/financial-accounts/{id}",
        "POST /v1/internal-transfers",
        "PATCH /v1/internal-transfers/{id}",
        "POST /v1/payouts",
        "PATCH /v1/payouts/{id}",
    ):
        _swap_metadata(body)
    if label == "POST /v1/financial-accounts":
        _swap(body, "currency", CURRENCIES)
    elif label in ("POST /v1/payment-codes", "PATCH /v1/payment-codes/{id}", "POST /v1/ussd-otps"):
        # A Sierra Leone number, a duration, a momo and an account the server knows, half the time.
        _swap_metadata(body)
        _swap(body, "authorizedPhoneNumber", PHONES)
        _swap(body, "duration", DURATIONS)
        _swap_items(body, "authorizedProviders", MOMOS)
        _swap(body, "financialAccountId", ACCOUNTS, 64)
        amount = body.get("amount")
        if isinstance(amount, dict):
            _swap(amount, "currency", CURRENCIES)
    elif label == "POST /v1/payouts":
        # A destination of the test rail, an amount we hold and a funded source, half the time.
        destination = body.get("destination")
        if isinstance(destination, dict):
            _swap(destination, "phoneNumber", PAYOUT_PHONES)
        source = body.get("source")
        if isinstance(source, dict):
            _swap(source, "financialAccountId", ACCOUNTS, 64)
        amount = body.get("amount")
        if isinstance(amount, dict):
            _swap(amount, "currency", CURRENCIES)
    elif label == "POST /v1/test-helpers/ussd/dial":
        _swap(body, "phoneNumber", PHONES)
        _swap(body, "providerId", MOMOS)
    elif label == "POST /v1/internal-transfers":
        amount = body.get("amount")
        if isinstance(amount, dict):
            # The document requires neither part of an amount (we do, naming the missing one); a
            # declared property added to an object leaves its validity as it was.
            if zlib.crc32(repr(sorted(amount, key=repr)).encode("utf-8", "surrogatepass")) % 2:
                amount.setdefault("currency", "SLE")
                amount.setdefault("value", 100)
            _swap(amount, "currency", CURRENCIES)
            value = amount.get("value")
            # Any integer is as valid as another; half the non-positive ones become positive.
            if type(value) is int and value <= 0 and value % 2 == 0:
                amount["value"] = abs(value) + 1
        # In opposite orders, so that two equal generated ids mostly become two different accounts.
        for side, accounts in (("sourceFinancialAccount", ACCOUNTS), ("destinationFinancialAccount", ACCOUNTS[::-1])):
            if isinstance(body.get(side), dict) and accounts:
                _swap(body[side], "id", accounts, 64)
    elif label == "POST /v1/access-tokens":
        _swap_items(body, "permissions", PERMISSIONS)
        _swap_items(body, "allowedIps", CIDRS)
        if SPACE:
            _swap(body, "spaceId", [SPACE])
    elif label in ("POST /v1/space-roles", "PATCH /v1/space-roles/{name}"):
        _swap_items(body, "permissions", PERMISSIONS)
    elif label in ("POST /v1/space-members", "PATCH /v1/space-members/{id}"):
        _swap(body, "role", ROLES)
        if MONIMEER:
            _swap(body, "monimeerId", [MONIMEER])


# The run's own credentials must outlive the run. Revoking or rotating the token the fuzzer
# authenticates with, demoting or removing its owner (once another owner exists), or a Space policy
# that refuses it, are legitimate requests whose only effect would be that every later request gets
# a 401/403 and the rest of the run tests nothing. So a revoke or rotate aimed at the run's own
# token, and a member change aimed at its owner, are sent to an unknown id instead, and a policy
# whose maximum token lifetime is shorter than the run token's (the quick-start token lives 30 days)
# is sent with that maximum raised to 31 days. Invalid values (negative, zero, not an integer) are
# sent as generated.
OWN_TOKEN_ID = os.environ.get("OPENMONIME_FUZZ_TOKEN_ID")
OWN_MONIMEER = os.environ.get("OPENMONIME_FUZZ_OWNER")
UNKNOWN_ID = "0" * 22
PROTECTED = {
    "POST /v1/access-tokens/{id}/revoke": OWN_TOKEN_ID,
    "POST /v1/access-tokens/{id}/rotate": OWN_TOKEN_ID,
    "PATCH /v1/space-members/{id}": OWN_MONIMEER,
    "DELETE /v1/space-members/{id}": OWN_MONIMEER,
}
SAFE_MAX_TOKEN_LIFETIME = 31 * 24 * 3600


@schemathesis.hook
def before_call(context, case, kwargs):
    label = case.operation.label
    _steer(label, case)
    protected = PROTECTED.get(label)
    if protected:
        path_parameters = case.path_parameters or {}
        if path_parameters.get("id") == protected:
            # Same prefix, so the id still matches the path's pattern: an unknown object.
            path_parameters["id"] = protected[:4] + UNKNOWN_ID
    elif label == "PATCH /v1/space-policies" and isinstance(case.body, dict):
        lifetime = case.body.get("maxTokenLifetimeSeconds")
        if type(lifetime) is int and 0 < lifetime < SAFE_MAX_TOKEN_LIFETIME:
            case.body["maxTokenLifetimeSeconds"] = SAFE_MAX_TOKEN_LIFETIME
