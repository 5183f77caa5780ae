"""
Loaded by the moto_server that `startMoto` starts: this folder is put first on its PYTHONPATH, and
Python imports `sitecustomize` at start-up. It mends eighteen differences between the local AWS and
Amazon's services, so that local runs and benchmarks behave and cost as they would on AWS:

1. SQS SendMessage in constant time. moto 5 reads `queue.attributes` on every send to learn
   whether the queue deduplicates by content, and that property counts the queue's visible,
   in-flight and delayed messages by scanning them all. Every message SNS fans out to a queue
   therefore costs time proportional to the queue's depth: with 7,000 messages waiting, one
   delivery took about 0.1 s of CPU, so a queue nobody drains (a service not running locally, a
   dead-letter queue) slowed every publish quadratically. While a message is being sent,
   SendMessage now gets only the FIFO settings it reads; GetQueueAttributes and everything else
   still get the full attributes with the real counts.
2. The list of moto's service packages is read once, not listed from disk twice per request.
3. The per-request access log of the development server is off (errors are still printed).
4. Connections stay open between calls (HTTP/1.1 keep-alive) for requests with bodies up to 1 MiB,
   instead of a TCP handshake, a thread and a 10 ms wait per call (moto: about 15 % less CPU per
   published event; the caller: about 7 % less).
5. DynamoDB writes are atomic, as in DynamoDB. moto reads an item, checks the condition and writes
   without a lock, on one thread per connection: two racing conditional writes could both pass
   (processing's job claims counted two attempts for one run). Writes now take one lock in turn.
6. The query-protocol parser (SNS) finds parameters by prefix with a binary search over the sorted
   keys instead of scanning every parameter for every structure it might read (about a fifth less
   moto CPU per event published in batches of 10).
7. The answer to a PublishBatch is written as the XML AWS sends, not through moto's generic,
   reflective serializer (about a sixth less moto CPU per published event).
8. Form bodies (every SNS call) are percent-decoded by a C decoder instead of escape by escape in
   Python: the same pairs, about 15 % less moto CPU per published event.
9. A PublishBatch's parameters are read straight from its form fields instead of by walking the
   API model for each of its ~280 fields: the same parameters (anything unusual still goes the
   generic way), about a fifth less moto CPU per published event.
10. The methods of a response class are listed once per class, not with inspect.getmembers
    before every call to see whether the action is one of them.
11. Every answer's 52-character request id is drawn in one go (random.choices) instead of one
    random.choice per character, from the same seedable generator.
12. Request headers that are plain `name: value` lines are split directly instead of going through
    the email package's feed parser (folded or malformed lines still do).
    Together 10–12: 5–9 % less moto CPU per PublishBatch of 10, measured interleaved.
13. Python's cyclic garbage collector runs every 20,000 allocations instead of 700, and the
    objects alive at start-up are frozen out of its walks over everything moto holds (about 7 %
    less moto CPU per PublishBatch of 10 with a few thousand messages kept).
14. A plain PublishBatch (the outbox relays' only call) is served without the web framework: read
    once and handed to the same SNS backend call, its answer written as AWS sends it, instead of
    going through the dispatcher, Flask, CORS and moto's per-call response set-up (about 40 % less
    moto CPU per published event). Anything unusual, and anything the backend refuses, goes the
    usual way.

15. moto reads the clock ("seconds since 1970, now") by building two datetimes and subtracting them,
    about 10 µs a call, twice for every message SQS is sent: now it is read directly (time.time()).
    With 9 (its field names now taken apart with str methods, not two regular expressions each):
    about 14 % less moto CPU per published event (233–248 → 205–213 µs, interleaved, 6,000 events).

16. A PublishBatch served directly (14) is read from its form body in one pass
    (`publish_batch_from_body`): each field name is looked up once it has been seen instead of taken
    apart again, only values with an escape are decoded, and a stray '%' is caught from the decoded
    length instead of by a regular-expression search over the whole body (90 µs for a relay's 19 KB
    call of 10 events). Anything it does not read itself goes the way of 8 and 9, as before. Reading
    a relay's call: ~400 → ~170 µs; moto CPU per published event 157–208 → 133–162 µs (interleaved,
    3 × 4,000 events).

17. A service's backend for an account is handed out without taking moto's global lock and listing
    the accounts known, once it exists (three lookups per message SNS publishes); the first lookup for
    an account still creates it moto's way.
18. A topic goes over its subscriptions directly for each message, instead of listing them as
    ListSubscriptionsByTopic answers (the topic looked up again, an ordered copy, a page of 100 — so
    moto delivered to the first 100 subscriptions only; SNS delivers to all).
    With 17: SNS's own work per published message (filter policy and SQS delivery included), timed
    in-process: ~50–55 → ~34–36 µs.

Nothing here changes what moto stores or answers to a single caller. Each mend checks that moto's internals look
as expected and otherwise leaves moto as shipped.
"""

import binascii
import functools
import re
import sys
import threading
from urllib.parse import parse_qsl, unquote

mended = []


def _send_message_in_constant_time():
    try:
        from moto.sqs import models
    except Exception:  # moto missing or reorganised: leave it alone
        return
    queue, backend = getattr(models, "Queue", None), getattr(models, "SQSBackend", None)
    if queue is None or backend is None or not callable(getattr(backend, "send_message", None)):
        return
    attributes = queue.__dict__.get("attributes")
    fifo_attributes = getattr(queue, "FIFO_ATTRIBUTES", None)
    if not isinstance(attributes, property) or not isinstance(fifo_attributes, list):
        return

    sending = threading.local()

    def attributes_unless_sending(self):
        if not getattr(sending, "depth", 0):
            return attributes.fget(self)
        # what SendMessage reads: the FIFO settings (ContentBasedDeduplication), as the full property gives them
        if not getattr(self, "fifo_queue", False):
            return {}
        out = {}
        for name in fifo_attributes:
            value = getattr(self, models.camelcase_to_underscores(name), None)
            out[name] = str(value).lower() if isinstance(value, bool) else value
        return out

    queue.attributes = property(attributes_unless_sending)

    send_message = backend.send_message

    def send_message_without_counting(self, *args, **kwargs):
        sending.depth = getattr(sending, "depth", 0) + 1
        try:
            return send_message(self, *args, **kwargs)
        finally:
            sending.depth -= 1

    backend.send_message = send_message_without_counting
    mended.append("sqs-send-in-constant-time")


_send_message_in_constant_time()


def _clock_read_directly():
    """
    moto asks "what time is it, in seconds (or milliseconds) since 1970?" through `unix_time()`,
    which builds today's datetime (importing datetime.UTC on every call), builds 1970's, subtracts
    and adds the parts back up: about 10 µs a call here, and SQS asks twice per message it is sent
    and again per message per receive. The answer for "now" is `time.time()`, read directly (the same
    clock, with more than the microseconds the datetime kept); a given datetime still goes moto's
    way.
    """
    import time

    try:
        from moto.core import utils
    except Exception:
        return
    unix_time, unix_time_millis = getattr(utils, "unix_time", None), getattr(utils, "unix_time_millis", None)
    if not callable(unix_time) or not callable(unix_time_millis):
        return

    def unix_time_now_read_directly(dt=None):
        return time.time() if dt is None else unix_time(dt)

    def unix_time_millis_now_read_directly(dt=None):
        return time.time() * 1000.0 if dt is None else unix_time_millis(dt)

    replacements = {unix_time: unix_time_now_read_directly, unix_time_millis: unix_time_millis_now_read_directly}
    # moto's modules took the functions by name when they were imported: theirs are replaced too
    # (modules imported later take the new ones from moto.core.utils)
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "moto" or name.startswith("moto.")):
            continue
        for attribute in ("unix_time", "unix_time_millis"):
            replacement = replacements.get(getattr(module, attribute, None))
            if replacement is not None:
                setattr(module, attribute, replacement)
    mended.append("clock-read-directly")


_clock_read_directly()


def _listing_remembered(module, name, mend):
    """`module.<name>` lists something that does not change while moto runs: it is listed once per argument."""
    listing = getattr(module, name, None)
    if not callable(listing):
        return
    setattr(module, name, functools.cache(lambda *args: tuple(listing(*args))))
    mended.append(mend)


def _list_modules_once():
    try:
        from moto import backends
    except Exception:
        return
    _listing_remembered(backends, "list_of_moto_modules", "modules-listed-once")


_list_modules_once()


def _quiet_request_log():
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    mended.append("no-request-log")


_quiet_request_log()


def _keep_connections_alive():
    """
    Werkzeug's development server, which moto_server runs on, closes the connection after every
    answer (it cannot tell where an unread request body ends) and then waits up to 10 ms for more
    bytes before closing: every AWS call pays a TCP handshake, a new thread and that wait. Requests
    whose body is small enough are read whole first, so the connection is at the next request when
    the answer is sent, and stays open (HTTP/1.1 keep-alive, as Amazon's endpoints do). Larger or
    chunked bodies (S3 uploads) keep the original behaviour.
    """
    try:
        import io
        import selectors

        from werkzeug import serving
    except Exception:
        return
    handler = getattr(serving, "WSGIRequestHandler", None)
    if handler is None or getattr(serving, "selectors", None) is not selectors:
        return
    for name in ("make_environ", "send_header"):
        if not callable(getattr(handler, name, None)):
            return
    max_body = 1024 * 1024
    state = threading.local()

    make_environ = handler.make_environ

    def make_environ_reading_small_bodies(self):
        environ = make_environ(self)
        # one thread per connection, so the flag is this request's (read by send_header and the drain below)
        state.keep_alive = False
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return environ
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        if not chunked and 0 <= length <= max_body and self.request_version == "HTTP/1.1":
            environ["wsgi.input"] = io.BytesIO(self.rfile.read(length) if length else b"")
            state.keep_alive = True
        return environ

    send_header = handler.send_header

    def send_header_keeping_alive(self, keyword, value):
        if getattr(state, "keep_alive", False) and keyword.lower() == "connection" and value.lower() == "close":
            return
        return send_header(self, keyword, value)

    class NoDrainSelector:
        """After an answer werkzeug drains what the client sent more; with keep-alive that would be the next request."""

        def __init__(self):
            self.inner = None if getattr(state, "keep_alive", False) else selectors.DefaultSelector()

        def register(self, *args, **kwargs):
            return self.inner.register(*args, **kwargs) if self.inner else None

        def select(self, *args, **kwargs):
            return self.inner.select(*args, **kwargs) if self.inner else []

        def close(self):
            if self.inner:
                self.inner.close()

    class SelectorsForServing:
        DefaultSelector = NoDrainSelector
        EVENT_READ = selectors.EVENT_READ

        def __getattr__(self, name):
            return getattr(selectors, name)

    # an open connection meets Nagle's algorithm: the body would wait for the ACK of the headers
    handler.disable_nagle_algorithm = True
    handler.make_environ = make_environ_reading_small_bodies
    handler.send_header = send_header_keeping_alive
    serving.selectors = SelectorsForServing()
    mended.append("keep-alive")


_keep_connections_alive()


def _atomic_dynamodb_writes():
    try:
        from moto.dynamodb.models import DynamoDBBackend
    except Exception:
        return
    names = ("put_item", "update_item", "delete_item", "transact_write_items")
    if not all(callable(getattr(DynamoDBBackend, name, None)) for name in names):
        return
    lock = threading.RLock()

    def one_at_a_time(write):
        def locked(self, *args, **kwargs):
            with lock:
                return write(self, *args, **kwargs)

        return locked

    for name in names:
        setattr(DynamoDBBackend, name, one_at_a_time(getattr(DynamoDBBackend, name)))
    mended.append("atomic-dynamodb-writes")


_atomic_dynamodb_writes()

def _query_parameters_found_by_prefix():
    """
    moto's parser for the query protocol (SNS, SQS's old protocol, IAM…) asks "does any parameter
    start with this prefix?" once per structure it might descend into, by scanning every parameter
    of the request. A PublishBatch of 10 events with 3 message attributes each has about 280
    parameters and about 50 such structures per request: that scan was a third of moto's CPU per
    published event. The keys are now sorted once per request and the question is a binary search
    (the keys starting with a prefix, if any, begin at the first key not below it), same answer.
    """
    try:
        import bisect
        import inspect

        from moto.core import parse
    except Exception:
        return
    parser = getattr(parse, "QueryParser", None)
    scan = getattr(parser, "_gonna_recurse", None)
    try:
        source = inspect.getsource(scan) if scan else ""
    except (OSError, TypeError):
        source = ""
    if "startswith(prefix)" not in source or 'prefix == ""' not in source:
        return
    # one request is parsed at a time per thread; its keys are kept until the next one
    last = threading.local()

    def found_no_key_with_prefix(self, query_params, prefix):
        if prefix == "":
            return False
        # (the parameters of a request do not change while it is parsed; len() would scan them too)
        if getattr(last, "params", None) is query_params:
            keys = last.keys
        else:
            keys = sorted(query_params)
            last.params, last.keys = query_params, keys
        i = bisect.bisect_left(keys, prefix)
        return not (i < len(keys) and keys[i].startswith(prefix))

    parser._gonna_recurse = found_no_key_with_prefix
    mended.append("query-parameters-by-prefix")


_query_parameters_found_by_prefix()

def publish_batch_answer(data, request_id=None):
    """The XML AWS answers a PublishBatch with: ids and message ids of the entries taken, code and message of those refused."""
    import uuid
    from xml.sax.saxutils import escape

    def text(value):
        return escape(str(value))

    parts = ['<PublishBatchResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishBatchResult><Successful>']
    for entry in data["Successful"]:
        parts.append(f"<member><Id>{text(entry['Id'])}</Id><MessageId>{text(entry['MessageId'])}</MessageId></member>")
    parts.append("</Successful><Failed>")
    for entry in data["Failed"]:
        fault = "true" if entry.get("SenderFault") else "false"
        parts.append(
            f"<member><Id>{text(entry['Id'])}</Id><Code>{text(entry['Code'])}</Code>"
            f"<Message>{text(entry.get('Message', ''))}</Message><SenderFault>{fault}</SenderFault></member>"
        )
    parts.append(f"</Failed></PublishBatchResult><ResponseMetadata><RequestId>{request_id or uuid.uuid4()}</RequestId></ResponseMetadata></PublishBatchResponse>")
    return "".join(parts)


def _publish_batch_answer_written_directly():
    """
    moto answers every call through a generic serializer that walks the API model and looks up each
    field by reflection; for a PublishBatch of 10 that was about a sixth of moto's CPU per published
    event. The answer is written as the XML AWS sends instead (`publish_batch_answer`); anything
    unexpected still goes the generic way.
    """
    try:
        from moto.sns.responses import SNSResponse
    except Exception:
        return
    publish_batch = getattr(SNSResponse, "publish_batch", None)
    if not callable(publish_batch):
        return

    def publish_batch_answered_directly(self):
        result = publish_batch(self)
        data = getattr(result, "result", None)
        if not isinstance(data, dict) or set(data) != {"Successful", "Failed"}:
            return result
        return publish_batch_answer(data), {"status": 200, "Content-Type": "text/xml"}

    SNSResponse.publish_batch = publish_batch_answered_directly
    mended.append("publish-batch-answer-written")


_publish_batch_answer_written_directly()

# a header name as RFC 9110 allows it (a token)
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
# a '%' that does not start a valid escape (a pattern that starts with a literal is searched for
# quickly: about 2 µs per published event, against 9 with line breaks as an alternative)
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _unquote_form_text(text, errors):
    """urllib.parse.unquote for one name or value of a form body, its '+' already a space."""
    if "%" not in text:
        return text
    if _STRAY_PERCENT.search(text):
        # the slow, general way (a stray '%' is kept as it is)
        return unquote(text, errors=errors)
    # quoted-printable is percent-encoding with '=' for '%': the C decoder does the work once the
    # text's own '=' are escaped. Every '=' it then sees starts a valid escape, so no soft line break
    # ('=' at a line's end) or bad escape can arise; other bytes, line breaks included, pass through.
    raw = binascii.a2b_qp(text.replace("=", "=3D").replace("%", "=").encode("utf-8"))
    return raw.decode("utf-8", errors)


def form_pairs(qs, keep_blank_values=False, strict_parsing=False, encoding="utf-8", errors="replace", max_num_fields=None, separator="&"):
    """urllib.parse.parse_qsl, same pairs, with the percent-decoding done by binascii."""
    if strict_parsing or encoding != "utf-8" or max_num_fields is not None or separator != "&" or not isinstance(qs, str):
        return parse_qsl(qs, keep_blank_values, strict_parsing, encoding, errors, max_num_fields, separator)
    pairs = []
    for field in qs.split("&"):
        if not field:
            continue
        name, _, value = field.partition("=")
        if not value and not keep_blank_values:
            continue
        pairs.append((_unquote_form_text(name.replace("+", " "), errors), _unquote_form_text(value.replace("+", " "), errors)))
    return pairs


def _form_bodies_decoded_in_c():
    """
    Every query-protocol call (SNS) arrives as a form body, and a published event is JSON: its
    quotes, braces and colons are all percent-escaped, and urllib decodes them in Python, escape by
    escape (about 15 % of moto's CPU per published event). `form_pairs` gives the same pairs and has
    binascii's C quoted-printable decoder do the decoding.
    """
    try:
        from werkzeug import formparser
    except Exception:
        return
    if getattr(formparser, "parse_qsl", None) is not parse_qsl:
        return
    formparser.parse_qsl = form_pairs
    mended.append("form-bodies-decoded-in-c")


_form_bodies_decoded_in_c()

_ENTRY_PREFIX = "PublishBatchRequestEntries.member."
_ATTRIBUTE_PREFIX = "MessageAttributes.entry."
_ATTRIBUTE_PARTS = ("Name", "Value.DataType", "Value.StringValue")
_ENTRY_TEXTS = ("Id", "Message", "Subject", "MessageStructure", "MessageDeduplicationId", "MessageGroupId")


def _is_ordinal(text):
    """1, 2, … written plainly in ASCII digits, as [1-9][0-9]* matches it"""
    return text.isdigit() and text.isascii() and text[0] != "0"


def publish_batch_params(querystring):
    """
    The parameters of a PublishBatch from its form fields ({name: [value]}), as moto's generic
    query parser gives them; None for anything this does not know (a binary attribute, an unknown
    field, a gap in the numbering), which then goes the generic way. Field names are taken apart
    with str methods, not regular expressions (this runs for ~110 fields per call: about a third
    less of moto's CPU per published event than two matches per field).
    """
    topic_arn = None
    numbered = {}
    entry_prefix = len(_ENTRY_PREFIX)
    attribute_prefix = len(_ATTRIBUTE_PREFIX)
    for name, values in querystring.items():
        if type(values) is not list or len(values) != 1 or not isinstance(values[0], str):
            return None
        value = values[0]
        if name == "Action" or name == "Version":
            continue
        if name == "TopicArn":
            topic_arn = value
            continue
        if not name.startswith(_ENTRY_PREFIX):
            return None
        # PublishBatchRequestEntries.member.<n>.<field>
        n, dot, field = name[entry_prefix:].partition(".")
        if not dot or not _is_ordinal(n):
            return None
        entry = numbered.get(int(n))
        if entry is None:
            entry = numbered[int(n)] = ({}, {})
        if field in _ENTRY_TEXTS:
            entry[0][field] = value
            continue
        # …MessageAttributes.entry.<m>.(Name|Value.DataType|Value.StringValue)
        if not field.startswith(_ATTRIBUTE_PREFIX):
            return None
        m, dot, part = field[attribute_prefix:].partition(".")
        if not dot or part not in _ATTRIBUTE_PARTS or not _is_ordinal(m):
            return None
        attribute = entry[1].get(int(m))
        if attribute is None:
            attribute = entry[1][int(m)] = {}
        attribute[part] = value
    return _batch_params(topic_arn, numbered)


def _batch_params(topic_arn, numbered):
    """
    A PublishBatch's parameters as moto's query parser gives them, from its topic and its entries
    numbered from 1 ({n: ({text field: value}, {m: {attribute part: value}})}, each attribute also
    numbered from 1); None for no topic, a gap in either numbering or an attribute without a name.
    """
    if topic_arn is None:
        return None
    entries = []
    for n in range(1, len(numbered) + 1):
        numbered_entry = numbered.get(n)
        if numbered_entry is None:
            return None
        texts, attributes = numbered_entry
        entry = dict(texts)
        if attributes:
            by_name = {}
            for a in range(1, len(attributes) + 1):
                attribute = attributes.get(a)
                if attribute is None or "Name" not in attribute:
                    return None
                value = {}
                if "Value.DataType" in attribute:
                    value["DataType"] = attribute["Value.DataType"]
                if "Value.StringValue" in attribute:
                    value["StringValue"] = attribute["Value.StringValue"]
                by_name[attribute["Name"]] = value
            entry["MessageAttributes"] = by_name
        entries.append(entry)
    params = {"TopicArn": topic_arn}
    if entries:
        params["PublishBatchRequestEntries"] = entries
    return params


# what each field name of a plain PublishBatch stands for (see `_field_slot`), remembered: a relay's
# calls use the same hundred-odd names over and over
_FIELD_SLOTS = {}


def _field_slot(name):
    """
    "Action", "Version" or "TopicArn"; (n, field, None, None) for an entry's text; (n, None, m, part)
    for part of an entry's m-th attribute; False for any name `publish_batch_params` does not take as
    it is written. None of the names it takes holds a '%' or a '+', so each is its own decoding.
    """
    if name == "Action" or name == "Version" or name == "TopicArn":
        return name
    if not name.startswith(_ENTRY_PREFIX):
        return False
    n, dot, field = name[len(_ENTRY_PREFIX):].partition(".")
    if not dot or not _is_ordinal(n):
        return False
    if field in _ENTRY_TEXTS:
        return (int(n), field, None, None)
    if not field.startswith(_ATTRIBUTE_PREFIX):
        return False
    m, dot, part = field[len(_ATTRIBUTE_PREFIX):].partition(".")
    if not dot or part not in _ATTRIBUTE_PARTS or not _is_ordinal(m):
        return False
    return (int(n), None, int(m), part)


def publish_batch_from_body(body):
    """
    The parameters of a PublishBatch straight from its form body: what `publish_batch_params` gives
    for the fields `form_pairs(body, keep_blank_values=True)` reads (Action and Version checked), or
    None — for anything that does not give, and for anything this does not read itself (a stray
    '%', a field name it does not know as written), which the caller then reads that way. One pass,
    each field name looked up once it has been seen, only values with an escape decoded.
    """
    action = version = topic_arn = None
    # n -> (texts, {m: {part: value}})
    numbered = {}
    slots = _FIELD_SLOTS
    for field in body.split("&"):
        if not field:
            continue
        name, _, value = field.partition("=")
        slot = slots.get(name)
        if slot is None:
            slot = _field_slot(name)
            if len(slots) < 4096:
                slots[name] = slot
        if not slot:
            return None
        if "+" in value:
            value = value.replace("+", " ")
        if "%" in value:
            # decoded as `_unquote_form_text` does when every '%' starts a valid escape; that is
            # checked after the fact, more cheaply than by searching for a stray one: in the decoder's
            # input each escape is a '=' and two hex digits, which it turns into one byte, and a '='
            # that is not (a stray '%') loses fewer than two — unless a line break follows it
            # (a soft line break to the decoder), which goes the other way at once
            if "%\n" in value or "%\r" in value:
                return None
            encoded = value.replace("=", "=3D").replace("%", "=").encode("utf-8")
            decoded = binascii.a2b_qp(encoded)
            if len(decoded) != len(encoded) - 2 * encoded.count(b"="):
                return None
            value = decoded.decode("utf-8", "replace")
        if type(slot) is str:
            # a name given twice is not a plain call
            if slot == "Action":
                if action is not None:
                    return None
                action = value
            elif slot == "Version":
                if version is not None:
                    return None
                version = value
            else:
                if topic_arn is not None:
                    return None
                topic_arn = value
            continue
        n, text, m, part = slot
        entry = numbered.get(n)
        if entry is None:
            entry = numbered[n] = ({}, {})
        if text is not None:
            if text in entry[0]:
                return None
            entry[0][text] = value
            continue
        attribute = entry[1].get(m)
        if attribute is None:
            attribute = entry[1][m] = {}
        elif part in attribute:
            return None
        attribute[part] = value
    if action != "PublishBatch" or version != "2010-03-31":
        return None
    return _batch_params(topic_arn, numbered)


def _publish_batch_read_directly():
    """
    moto reads every call's parameters by walking the API model, shape by shape, for each of a
    PublishBatch's ~280 form fields (about a fifth of moto's CPU per published event). A PublishBatch
    whose fields are all known is read by `publish_batch_params` instead; the result is the same.
    """
    try:
        from moto.sns.responses import SNSResponse
    except Exception:
        return
    parse_parameters = getattr(SNSResponse, "parse_parameters", None)
    if not callable(parse_parameters):
        return

    def parse_parameters_of_publish_batch_directly(self, request):
        querystring = getattr(self, "querystring", None)
        if isinstance(querystring, dict) and querystring.get("Action") == ["PublishBatch"]:
            params = publish_batch_params(querystring)
            if params is not None:
                self.params = params
                return
        parse_parameters(self, request)

    SNSResponse.parse_parameters = parse_parameters_of_publish_batch_directly
    mended.append("publish-batch-read-directly")


_publish_batch_read_directly()


def _action_methods_listed_once():
    """
    Before every call moto lists its response class's methods (inspect.getmembers over a few
    hundred attributes) to see whether the action is one of them. A class's methods do not change
    while moto runs: they are listed once per class.
    """
    try:
        from moto.core import responses
    except Exception:
        return
    _listing_remembered(responses, "method_names_from_class", "action-methods-listed-once")


_action_methods_listed_once()


def _request_ids_drawn_at_once():
    """moto draws the 52 characters of every answer's request id one random.choice at a time; one draw of 52 now."""
    try:
        import string

        from moto.core import responses
        from moto.moto_api._internal import mock_random
    except Exception:
        return
    if not callable(getattr(responses, "gen_amzn_requestid_long", None)) or not callable(getattr(mock_random, "choices", None)):
        return
    pool = string.ascii_letters + string.digits

    def request_id(headerdict=None):
        req_id = "".join(mock_random.choices(pool, k=52))
        if isinstance(headerdict, dict):
            headerdict["x-amzn-requestid"] = req_id
        return req_id

    responses.gen_amzn_requestid_long = request_id
    mended.append("request-ids-drawn-at-once")


_request_ids_drawn_at_once()


def fast_headers(lines, message_class):
    """
    The header block of a request (the lines http.client read, the blank line last) as `message_class`
    holds it after the email parser: (name, value) pairs in order. None when a line is anything but a
    plain `name: value` (a folded line, no colon, a bare line feed or carriage return): the email
    parser handles those.
    """
    message = message_class()
    for raw in lines:
        if raw == b"\r\n":
            break
        line = raw.decode("iso-8859-1")
        name, colon, value = line.partition(":")
        if not colon or not line.endswith("\r\n") or line[0] in " \t" or "\r" in line[:-2] or not _HEADER_NAME.match(name):
            return None
        message._headers.append((name, value.lstrip(" \t")[:-2]))
    else:
        return None
    message.set_payload("")
    return message


def _headers_read_without_email_parser():
    """
    Every request's headers went through the email package's feed parser (a few percent of moto's
    CPU per call). Plain `name: value` lines are split directly; anything else still goes to the
    email parser.
    """
    try:
        import email.parser
        import http.client
    except Exception:
        return
    read_headers = getattr(http.client, "_read_headers", None)
    if not callable(read_headers) or not callable(getattr(http.client, "parse_headers", None)):
        return

    def parse_headers(fp, _class=http.client.HTTPMessage):
        lines = read_headers(fp)
        message = fast_headers(lines, _class)
        if message is not None:
            return message
        return email.parser.Parser(_class=_class).parsestr(b"".join(lines).decode("iso-8859-1"))

    http.client.parse_headers = parse_headers
    mended.append("headers-read-without-email-parser")


_headers_read_without_email_parser()


def _garbage_collected_less_often():
    """
    moto keeps every message it was sent in memory (SQS queues, SNS notifications), and each call
    makes thousands of short-lived objects: Python's cyclic collector ran every 700 allocations and,
    now and then, walked everything moto holds. The objects alive at start-up (moto's modules, the
    API models) are frozen out of its walks, and it runs every 20,000 allocations. Reference
    counting still frees almost everything at once; only cycles wait a little longer.
    """
    import gc

    gc.freeze()
    gc.set_threshold(20_000, 50, 100)
    mended.append("garbage-collected-less-often")


_garbage_collected_less_often()


def _backends_found_without_a_lock():
    """
    Every lookup of a service's backend for an account (`sns_backends[account]`, three per message SNS
    publishes) took a lock shared by all of moto and listed the accounts known so far, to create the
    account's backend the first time. A backend that exists is now handed out at once; the first
    lookup for an account still goes moto's way (the lock, the creation).
    """
    try:
        from moto.core.base_backend import BackendDict
    except Exception:
        return
    usual = BackendDict.__dict__.get("__getitem__")
    if usual is None or not callable(getattr(BackendDict, "_create_account_specific_backend", None)) or not issubclass(BackendDict, dict):
        return
    contains, get = dict.__contains__, dict.__getitem__

    def found_without_a_lock(self, account_id):
        if contains(self, account_id):
            return get(self, account_id)
        return usual(self, account_id)

    BackendDict.__getitem__ = found_without_a_lock
    # for moto-mends-check.py: the lookup the usual way
    global usual_backend_lookup
    usual_backend_lookup = usual
    mended.append("backends-found-without-a-lock")


_backends_found_without_a_lock()


def _topic_subscriptions_listed_directly():
    """
    For every message, a topic listed its subscriptions the way ListSubscriptionsByTopic answers: the
    topic looked up again by its ARN, the subscriptions copied into an ordered dict and cut to a page
    of 100 — so a topic with more than 100 subscriptions delivered to the first 100 only (SNS
    delivers to all). The topic now goes over its subscriptions directly, in the same order, all of them.
    """
    try:
        import inspect

        from moto.moto_api._internal import mock_random
        from moto.sns.models import SNSBackend, Topic
    except Exception:
        return
    usual = Topic.__dict__.get("publish")
    try:
        source = inspect.getsource(usual) if usual else ""
        parameters = list(inspect.signature(usual).parameters) if usual else []
    except (OSError, TypeError, ValueError):
        return
    if (
        parameters != ["self", "message", "subject", "message_attributes", "group_id", "deduplication_id", "message_structure"]
        or "list_subscriptions_by_topic(" not in source
        or "self.sent_notifications.append(" not in source
        or not callable(getattr(SNSBackend, "_get_topic_subscriptions", None))
    ):
        return

    def publish_to_subscriptions_directly(self, message, subject=None, message_attributes=None, group_id=None, deduplication_id=None, message_structure=None):
        message_id = str(mock_random.uuid4())
        for subscription in self.sns_backend._get_topic_subscriptions(self):
            subscription.publish(
                message,
                message_id,
                subject=subject,
                message_attributes=message_attributes,
                group_id=group_id,
                deduplication_id=deduplication_id,
                message_structure=message_structure,
            )
        self.sent_notifications.append((message_id, message, subject, message_attributes, group_id))
        return message_id

    Topic.publish = publish_to_subscriptions_directly
    # for moto-mends-check.py: the topic's publish the usual way
    global usual_topic_publish
    usual_topic_publish = usual
    mended.append("topic-subscriptions-listed-directly")


_topic_subscriptions_listed_directly()


def _publish_batch_served_directly():
    """
    Every call went through the whole web framework: the dispatcher's lock and host lookup, a Flask
    request and its context, CORS, moto's response class set up for the call (headers, body and
    query string parsed again), the action looked up, the answer serialised and wrapped — about 40 %
    of moto's CPU per event published in batches of 10. A plain PublishBatch (signed for SNS, a
    form body whose fields `publish_batch_params` knows, nothing moto's request recorder or IAM
    checks would see) is now read once, handed to the same SNS backend call with its attributes
    checked and converted by SNS's own code, and answered with the XML AWS sends. Anything else goes
    the usual way, untouched, and so does a batch the backend refuses (no such topic, more than 10
    entries, repeated ids…): it refuses before publishing anything, so the usual way gives the usual
    error.
    """
    try:
        import io
        import os
        import uuid

        from moto import settings
        from moto.iam.models import get_account_id_from
        from moto.moto_api import recorder
        from moto.moto_server import werkzeug_app
        from moto.sns.models import sns_backends
        from moto.sns.responses import SNSResponse
    except Exception:
        return
    dispatcher = getattr(werkzeug_app, "DomainDispatcherApplication", None)
    convert = getattr(SNSResponse, "_transform_message_attributes", None)
    if dispatcher is None or not callable(convert) or not hasattr(recorder, "_user_enabled"):
        return
    usual = dispatcher.__call__

    def plain_publish_batch(environ):
        """(body, access key, region) of a request this serves, else None (nothing read)."""
        if (
            environ.get("REQUEST_METHOD") != "POST"
            or environ.get("PATH_INFO") != "/"
            or environ.get("QUERY_STRING")
            or environ.get("HTTP_CONTENT_ENCODING")
            or environ.get("HTTP_ORIGIN")  # CORS answers stay Flask's
            or not (environ.get("CONTENT_TYPE") or "").startswith("application/x-www-form-urlencoded")
            or recorder._user_enabled
            or settings.INITIAL_NO_AUTH_ACTION_COUNT != float("inf")
        ):
            return None
        auth = environ.get("HTTP_AUTHORIZATION") or ""
        if not auth.startswith("AWS4-HMAC-SHA256 Credential="):
            return None
        scope = auth[len("AWS4-HMAC-SHA256 Credential="):].split(",", 1)[0].split("/")
        if len(scope) != 5 or scope[3] != "sns":
            return None
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None
        if length <= 0:
            return None
        raw = environ["wsgi.input"].read(length)
        # whichever way it goes now, the body can be read again
        environ["wsgi.input"] = io.BytesIO(raw)
        if not raw.startswith(b"Action=PublishBatch&") and b"&Action=PublishBatch&" not in raw and not raw.endswith(b"&Action=PublishBatch"):
            return None
        try:
            return raw.decode("utf-8"), scope[0], scope[2]
        except UnicodeDecodeError:
            return None

    def publish_batch_directly(environ, request_id):
        """The answer's XML, or None for the usual way."""
        plain = plain_publish_batch(environ)
        if plain is None:
            return None
        body, access_key, region = plain
        params = publish_batch_from_body(body)
        if params is None:
            querystring = {}
            for name, value in form_pairs(body, keep_blank_values=True):
                querystring.setdefault(name, []).append(value)
            if querystring.get("Action") != ["PublishBatch"] or querystring.get("Version") != ["2010-03-31"]:
                return None
            params = publish_batch_params(querystring)
            if params is None:
                return None
        entries = params.get("PublishBatchRequestEntries", [])
        try:
            for entry in entries:
                if "MessageAttributes" in entry:
                    entry["MessageAttributes"] = convert(None, entry["MessageAttributes"])
            account = os.environ.get("MOTO_ACCOUNT_ID") or environ.get("HTTP_X_MOTO_ACCOUNT_ID") or get_account_id_from(access_key)
            successful, failed = sns_backends[account][region].publish_batch(topic_arn=params["TopicArn"], publish_batch_request_entries=entries)
        except Exception:
            # refused before anything was published: the usual way refuses it again, in moto's words
            return None
        return publish_batch_answer({"Successful": successful, "Failed": failed}, request_id)

    def served_directly(self, environ, start_response):
        # one id, in the header and in the XML, as AWS answers
        request_id = str(uuid.uuid4())
        answer = publish_batch_directly(environ, request_id)
        if answer is None:
            return usual(self, environ, start_response)
        data = answer.encode("utf-8")
        start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(data))), ("x-amzn-RequestId", request_id)])
        return [data]

    dispatcher.__call__ = served_directly
    # for moto-mends-check.py: the same request the usual way
    global usual_dispatch
    usual_dispatch = usual
    mended.append("publish-batch-served-directly")


_publish_batch_served_directly()

# one line on stderr, so whoever starts moto can tell the mends are in (startMoto's onLog sees it)
print(f"anb moto mends: {', '.join(mended) or 'none'}", file=sys.stderr, flush=True)


def _chain_next_sitecustomize():
    """This file shadows any other sitecustomize on the path (a virtualenv's, a distribution's): run it too."""
    import importlib.machinery
    import importlib.util
    import os

    here = os.path.dirname(os.path.abspath(__file__))
    for entry in sys.path:
        if os.path.abspath(entry or ".") == here:
            continue
        spec = importlib.machinery.PathFinder.find_spec("sitecustomize", [entry])
        if spec is not None and spec.loader is not None:
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return


_chain_next_sitecustomize()
