"""
Checks the mends that replace one of moto's readers with a quicker one (moto.test.ts runs this
with the mends on PYTHONPATH): on generated input each must give exactly what the reader it replaces
gives. Prints one line per check and exits 1 at the first difference.

1. `form_pairs` against urllib's parse_qsl, on random form bodies: escapes of every byte, stray and
   cut-off '%', '+', '=', raw non-ASCII text and line breaks, invalid UTF-8, empty fields and values.
2. `publish_batch_params` against moto's generic query parser, on random PublishBatch calls sent
   to an in-process moto (awkward text, 0–4 attributes, subjects, group ids, binary attributes,
   which must go the generic way), each call also published for real.
3. `fast_headers` (through http.client.parse_headers, as the server calls it) against the email
   parser, on random header blocks: odd names, empty values, spaces and tabs, Latin-1 bytes, folded
   lines, lines without a colon, bare line feeds, a block cut off before its blank line.
4. The action methods listed once are the ones inspect lists, and request ids keep their shape.
5. A PublishBatch served directly against the same call the usual way (through Flask and moto's
   response class), on random calls to two twin topics, each with a raw subscribed queue behind a
   filter policy: the same status, the same entries taken and refused (with the same codes and
   messages), the header's request id in the XML, the same messages and attributes in the queues.
   The calls include ones that must go the usual way (binary attributes, 11 entries, repeated ids,
   a missing topic, a bad Number) and entries SNS refuses (over 256 KiB).
6. Odd field names (leading zeros, other digits, unknown parts, line breaks) make `publish_batch_params`
   leave the call to moto's parser; moto's clock read directly gives the now moto computed.
7. `publish_batch_from_body` against `form_pairs` + `publish_batch_params` (checked in 1 and 2), on
   random PublishBatch bodies (each must be read), the same with raw pieces put in anywhere (stray
   and cut-off '%' before line breaks and elsewhere, '+', '=', '&'), and random form bodies.
8. 17 and 18: the backend found without the lock is the one moto's lookup gives; a topic going over
   its subscriptions directly delivers the same messages to three queues behind filter policies as
   moto's Topic.publish, on random messages and attributes.
"""

import random
import sys
from urllib.parse import parse_qsl, quote

import sitecustomize
import werkzeug.formparser  # registers the 'werkzeug.url_quote' error handler moto's forms use
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

rng = random.Random(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
PIECES = ["a", "Z", "0", " ", "+", "=", "&", "%", "%2", "%zz", "%41", "%3D", "%26", "%2B", "%25", "%0A", "%C3%A9", "%C3", "%E2%82%AC",
          "%F0%9F%8F%80", "%ff", "é", "€", "🏀", '"', "{", ":", "_", "\t", "~", "*", "\n", "\r", " \r\n", "\t\n"]


def random_form():
    fields = []
    for _ in range(rng.randint(0, 8)):
        name = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 4))).replace("&", "")
        value = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 12))).replace("&", "")
        fields.append(rng.choice([f"{name}={value}", name, f"{name}=", ""]))
    return "&".join(fields)


def check_form_pairs(rounds=20000):
    for _ in range(rounds):
        body = random_form()
        for keep_blank in (True, False):
            for errors in ("replace", "werkzeug.url_quote"):
                expected = parse_qsl(body, keep_blank_values=keep_blank, errors=errors)
                got = sitecustomize.form_pairs(body, keep_blank_values=keep_blank, errors=errors)
                if got != expected:
                    print(f"form_pairs differs on {body!r} (keep_blank_values={keep_blank}, errors={errors}):\n  {got!r}\n  {expected!r}")
                    sys.exit(1)
    print(f"form_pairs: {rounds} random bodies, same pairs as parse_qsl")


TEXT = ["plain", 'a "quoted", %escaped & long-ish body', "café ñandú", "🏀 x 🏆", "a+b=c&d", "%41%", "line\nbreak", "tab\t", "{\"k\":[1,2]}", ""]


def random_batch(topic_arn):
    fields = [("Action", "PublishBatch"), ("Version", "2010-03-31"), ("TopicArn", topic_arn)]
    binary = False
    for n in range(1, rng.randint(1, 10) + 1):
        prefix = f"PublishBatchRequestEntries.member.{n}"
        fields.append((f"{prefix}.Id", f"e{n}-{rng.randint(0, 99)}"))
        fields.append((f"{prefix}.Message", rng.choice(TEXT[:-1]) + str(n)))
        if rng.random() < 0.3:
            fields.append((f"{prefix}.Subject", rng.choice(TEXT[:-1])))
        if rng.random() < 0.2:
            fields.append((f"{prefix}.MessageGroupId", f"g{n}"))
        for a in range(1, rng.randint(0, 4) + 1):
            at = f"{prefix}.MessageAttributes.entry.{a}"
            fields.append((f"{at}.Name", f"attr{a}_{rng.choice(['x', 'é', 'type'])}"))
            if rng.random() < 0.02:
                binary = True
                fields.append((f"{at}.Value.DataType", "Binary"))
                fields.append((f"{at}.Value.BinaryValue", "aGVsbG8="))
            else:
                data_type = rng.choice(["String", "Number", "String.custom"])
                fields.append((f"{at}.Value.DataType", data_type))
                fields.append((f"{at}.Value.StringValue", str(rng.randint(-5, 500)) if data_type == "Number" else rng.choice(TEXT[:-1])))
    rng.shuffle(fields)  # a caller may send the fields in any order
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in fields), binary


def params_the_long_way(body):
    """what a PublishBatch served directly read before `publish_batch_from_body`: form_pairs, then publish_batch_params"""
    querystring = {}
    for name, value in sitecustomize.form_pairs(body, keep_blank_values=True):
        querystring.setdefault(name, []).append(value)
    if querystring.get("Action") != ["PublishBatch"] or querystring.get("Version") != ["2010-03-31"]:
        return None
    return sitecustomize.publish_batch_params(querystring)


def spoilt(body):
    """a PublishBatch body with raw pieces (stray and cut-off '%', '+', '=', '&', line breaks…) put into it here and there"""
    out = list(body)
    for _ in range(rng.randint(1, 4)):
        out.insert(rng.randint(0, len(out)), rng.choice(PIECES + ["%\n", "%\r", "%\r\n", "%", "%%", "%=", "=%", "%3", "%0D%0A"]))
    return "".join(out)


def check_publish_batch_from_body(rounds=6000):
    arn = "arn:aws:sns:us-east-1:123456789012:mends-check"
    read, left = 0, 0
    for i in range(rounds):
        kind = i % 3
        if kind == 0:
            body, binary = random_batch(arn)
        elif kind == 1:
            body, binary = spoilt(random_batch(arn)[0]), True
        else:
            body, binary = random_form(), True
        got = sitecustomize.publish_batch_from_body(body)
        expected = params_the_long_way(body)
        if got is None and not binary:
            print(f"publish_batch_from_body left a plain call to the long way: {body[:300]!r}")
            sys.exit(1)
        if got is not None and got != expected:
            print(f"publish_batch_from_body differs on {body[:300]!r}:\n  {got!r}\n  {expected!r}")
            sys.exit(1)
        read += got is not None
        left += got is None and expected is not None
    print(f"publish_batch_from_body: {rounds} random and spoilt bodies, the same parameters as form_pairs and publish_batch_params ({read} read, {left} left to them)")


class UsualWay(DomainDispatcherApplication):
    """moto's dispatcher without the served-directly mend: every call goes the usual way"""

    __call__ = sitecustomize.usual_dispatch


def check_publish_batch_params(rounds=300):
    import copy
    import json

    from moto.core.responses import BaseResponse
    from moto.moto_server.werkzeug_app import create_backend_app
    from moto.sns.responses import SNSResponse
    from werkzeug.test import Client

    generic = BaseResponse.parse_parameters
    seen = {"compared": 0, "generic way": 0}

    def spy(self, request):
        generic(self, request)
        expected = copy.deepcopy(self.params)
        got = sitecustomize.publish_batch_params(self.querystring)
        if got is None:
            seen["generic way"] += 1
        elif got != expected:
            print(f"publish_batch_params differs:\n  {json.dumps(got, ensure_ascii=False)}\n  {json.dumps(expected, ensure_ascii=False)}")
            sys.exit(1)
        else:
            seen["compared"] += 1

    # the generic parser runs on the usual way only (a plain PublishBatch is otherwise served directly)
    client = Client(UsualWay(create_backend_app))
    auth = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=0"
    headers = {"content-type": "application/x-www-form-urlencoded", "authorization": auth, "host": "127.0.0.1:5000"}
    created = client.post("/", data="Action=CreateTopic&Name=mends-check&Version=2010-03-31", headers=headers).get_data(as_text=True)
    topic_arn = created.split("<TopicArn>")[1].split("</TopicArn>")[0]
    SNSResponse.parse_parameters = spy
    binaries = 0
    for _ in range(rounds):
        body, binary = random_batch(topic_arn)
        binaries += binary
        answer = client.post("/", data=body, headers=headers)
        if answer.status_code != 200:
            print(f"PublishBatch answered {answer.status_code}: {answer.get_data(as_text=True)[:300]}")
            sys.exit(1)
    if seen["compared"] + seen["generic way"] != rounds or seen["generic way"] != binaries:
        print(f"unexpected split: {seen} for {rounds} calls of which {binaries} had a binary attribute")
        sys.exit(1)
    print(f"publish_batch_params: {seen['compared']} random batches, same parameters as moto's parser; {seen['generic way']} with a binary attribute went the generic way")


HEADER_NAMES = ["Host", "Content-Type", "X-Amz-Date", "authorization", "X-Amz-Target", "a", "x-y_z", "Bad Name", "n@me", "caf\xe9", "", "From"]
HEADER_VALUES = ["", " ", "\t", "127.0.0.1:4566", " spaced ", "a:b:c", "AWS4-HMAC-SHA256 Credential=x/y, Signature=0", "caf\xe9 \xff", "\ttabbed", "v\rcr", "v\nlf"]


def random_header_block():
    lines = []
    for _ in range(rng.randint(0, 8)):
        kind = rng.random()
        if kind < 0.85:
            sep = rng.choice([":", ": ", ":\t", ":  ", " :"])
            lines.append(rng.choice(HEADER_NAMES) + sep + rng.choice(HEADER_VALUES) + rng.choice(["\r\n"] * 9 + ["\n"]))
        elif kind < 0.93:
            lines.append(rng.choice([" ", "\t"]) + "folded " + rng.choice(HEADER_VALUES) + "\r\n")
        else:
            lines.append(rng.choice(["no colon here", "From someone", ""]) + "\r\n")
    block = "".join(lines) + rng.choice(["\r\n"] * 9 + ["\n", ""])
    return block.encode("iso-8859-1")


def check_fast_headers(rounds=20000):
    import email.parser
    import http.client
    import io

    fast = 0
    for _ in range(rounds):
        block = random_header_block()
        try:
            expected = vars(email.parser.Parser(_class=http.client.HTTPMessage).parsestr(b"".join(http.client._read_headers(io.BytesIO(block))).decode("iso-8859-1")))
        except Exception as error:
            expected = repr(error)
        try:
            got = vars(http.client.parse_headers(io.BytesIO(block)))
        except Exception as error:
            got = repr(error)
        if repr(got) != repr(expected):
            print(f"parse_headers differs on {block!r}:\n  {got!r}\n  {expected!r}")
            sys.exit(1)
        fast += sitecustomize.fast_headers(http.client._read_headers(io.BytesIO(block)), http.client.HTTPMessage) is not None
    print(f"fast_headers: {rounds} random header blocks, same headers as the email parser ({fast} split directly)")


def check_listed_once_and_request_ids():
    import re

    from moto.core import responses, utils
    from moto.sns.responses import SNSResponse
    from moto.sqs.responses import SQSResponse

    for clazz in (SNSResponse, SQSResponse):
        if list(responses.method_names_from_class(clazz)) != utils.method_names_from_class(clazz):
            print(f"the methods listed once for {clazz.__name__} differ from inspect's")
            sys.exit(1)
    headers = {}
    ids = {responses.gen_amzn_requestid_long(headers) for _ in range(1000)}
    if len(ids) != 1000 or not all(re.fullmatch(r"[A-Za-z0-9]{52}", i) for i in ids) or headers["x-amzn-requestid"] not in ids:
        print(f"request ids lost their shape: {sorted(ids)[:3]}")
        sys.exit(1)
    print("action methods listed once: same as inspect's; request ids: 52 letters and digits, all different")


def check_publish_batch_served_directly(rounds=300):
    import json
    import re

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.moto_server.werkzeug_app import create_backend_app
    from moto.sns.responses import SNSResponse
    from moto.sqs.models import sqs_backends
    from werkzeug.test import Client

    auth = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0"
    form = "application/x-www-form-urlencoded"

    def headers(service):
        return {"content-type": form, "authorization": auth.format(service=service), "host": "127.0.0.1:5000"}

    direct, usual = Client(DomainDispatcherApplication(create_backend_app)), Client(UsualWay(create_backend_app))
    sqs = sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    twins = []
    for name in ("direct", "usual"):
        answer = direct.post("/", data=f"Action=CreateTopic&Name=served-{name}&Version=2010-03-31", headers=headers("sns")).get_data(as_text=True)
        topic_arn = answer.split("<TopicArn>")[1].split("</TopicArn>")[0]
        queue = sqs.create_queue(f"served-{name}")
        # attribute names random_batch may give, so some entries pass the filter and some do not
        policy = json.dumps({"attr1_x": [{"exists": True}], "attr2_type": [{"prefix": "p"}, "plain"]})
        fields = {"Action": "Subscribe", "TopicArn": topic_arn, "Protocol": "sqs", "Endpoint": queue.queue_arn, "Version": "2010-03-31",
                  "Attributes.entry.1.key": "RawMessageDelivery", "Attributes.entry.1.value": "true",
                  "Attributes.entry.2.key": "FilterPolicy", "Attributes.entry.2.value": policy}
        subscribed = direct.post("/", data="&".join(f"{k}={quote(v, safe='')}" for k, v in fields.items()), headers=headers("sns"))
        if subscribed.status_code != 200:
            print(f"Subscribe answered {subscribed.status_code}: {subscribed.get_data(as_text=True)[:300]}")
            sys.exit(1)
        twins.append((topic_arn, queue))
    (direct_topic, direct_queue), (usual_topic, usual_queue) = twins

    calls = {"usual": 0}
    answered_usually = SNSResponse.publish_batch

    def counted(self):
        calls["usual"] += 1
        return answered_usually(self)

    SNSResponse.publish_batch = counted

    def shape(answer):
        """status, entries taken (ids), entries refused (id, code, message, sender fault), error code"""
        text = answer.get_data(as_text=True)
        taken = sorted(re.findall(r"<member><Id>([^<]*)</Id><MessageId>[^<]+</MessageId></member>", text))
        refused = sorted(re.findall(r"<member><Id>([^<]*)</Id><Code>([^<]*)</Code><Message>([^<]*)</Message><SenderFault>([^<]*)</SenderFault></member>", text))
        error = re.findall(r"<Code>([^<]*)</Code>", text) if answer.status_code != 200 else []
        # the request id of the header is the one in the XML
        ids = re.findall(r"<RequestId>([^<]*)</RequestId>", text)
        one_id = answer.status_code != 200 or ids == [answer.headers.get("x-amzn-RequestId")]
        return answer.status_code, taken, refused, error, one_id

    def delivered(queue):
        messages = sorted((m.body, json.dumps(m.message_attributes, sort_keys=True)) for m in queue._messages)
        queue._messages.clear()
        return messages

    def entries(n, message=lambda i: f"m{i}"):
        out = []
        for i in range(1, n + 1):
            m = f"PublishBatchRequestEntries.member.{i}"
            out += [f"{m}.Id=e{i}", f"{m}.Message={quote(message(i), safe='')}", f"{m}.MessageAttributes.entry.1.Name=attr1_x",
                    f"{m}.MessageAttributes.entry.1.Value.DataType=String", f"{m}.MessageAttributes.entry.1.Value.StringValue=v{i}"]
        return out

    def odd_call(topic_arn):
        """a call the backend or SNS's attribute checks refuse, or with an entry SNS refuses"""
        head = ["Action=PublishBatch", "Version=2010-03-31", f"TopicArn={quote(topic_arn, safe='')}"]
        kind = rng.choice(["eleven", "repeated id", "missing topic", "bad number", "too long"])
        if kind == "eleven":
            return "&".join(head + entries(11))
        if kind == "repeated id":
            return "&".join(head + entries(3)).replace("member.2.Id=e2", "member.2.Id=e1")
        if kind == "missing topic":
            return "&".join(head + entries(2)).replace(quote(topic_arn, safe=""), quote(topic_arn + "-missing", safe=""))
        if kind == "bad number":
            return "&".join(head + entries(2)).replace("member.2.MessageAttributes.entry.1.Value.DataType=String", "member.2.MessageAttributes.entry.1.Value.DataType=Number")
        return "&".join(head + entries(3, lambda i: "x" * 262_145 if i == 2 else f"m{i}"))

    served, usual_calls = 0, 0
    for _ in range(rounds):
        if rng.random() < 0.15:
            body = odd_call(direct_topic)
        else:
            body, _binary = random_batch(direct_topic)
        twin_body = body.replace(quote(direct_topic, safe=""), quote(usual_topic, safe=""))
        before = calls["usual"]
        got = shape(direct.post("/", data=body, headers=headers("sns")))
        went_usual_way = calls["usual"] > before
        expected = shape(usual.post("/", data=twin_body, headers=headers("sns")))
        if got != expected:
            print(f"served directly, a PublishBatch answered differently:\n  {got!r}\n  {expected!r}\n  {body[:400]}")
            sys.exit(1)
        got_messages, expected_messages = delivered(direct_queue), delivered(usual_queue)
        if got_messages != expected_messages:
            print(f"served directly, a PublishBatch delivered differently:\n  {got_messages!r}\n  {expected_messages!r}")
            sys.exit(1)
        served += not went_usual_way
        usual_calls += went_usual_way
    SNSResponse.publish_batch = answered_usually
    print(f"publish batch served directly: {rounds} random calls, same answers and deliveries as the usual way ({served} served directly, {usual_calls} went the usual way)")


def check_odd_field_names():
    """Field names the quick reader does not take apart exactly as PublishBatch's shape says go the generic way."""
    arn = {"Action": ["PublishBatch"], "Version": ["2010-03-31"], "TopicArn": ["arn:aws:sns:us-east-1:123456789012:t"]}
    plain = {"PublishBatchRequestEntries.member.1.Id": ["0"], "PublishBatchRequestEntries.member.1.Message": ["m"]}
    if sitecustomize.publish_batch_params({**arn, **plain}) is None:
        print("publish_batch_params refused a plain entry")
        sys.exit(1)
    odd = [
        "PublishBatchRequestEntries.member.01.Id", "PublishBatchRequestEntries.member.0.Id", "PublishBatchRequestEntries.member.\u00b2.Id",
        "PublishBatchRequestEntries.member.\u0661.Id", "PublishBatchRequestEntries.member.1 .Id", "PublishBatchRequestEntries.member..Id",
        "PublishBatchRequestEntries.member.1", "PublishBatchRequestEntries.member.1.Id\n", "PublishBatchRequestEntries.member.1.Foo",
        "PublishBatchRequestEntries.member.1.MessageAttributes.entry.01.Name", "PublishBatchRequestEntries.member.1.MessageAttributes.entry.1",
        "PublishBatchRequestEntries.member.1.MessageAttributes.entry.1.Name.x", "PublishBatchRequestEntries.member.1.MessageAttributes.entry.1.Value.BinaryValue",
        "PublishBatchRequestEntries.member.1.MessageAttributes.entry.1.Value.StringValue\n", "publishbatchrequestentries.member.1.Id", "X.member.1.Id",
    ]
    for name in odd:
        if sitecustomize.publish_batch_params({**arn, **plain, name: ["v"]}) is not None:
            print(f"publish_batch_params read the odd field {name!r} instead of leaving the call to moto's parser")
            sys.exit(1)
    print(f"publish_batch_params: {len(odd)} odd field names go the generic way")


def check_backends_and_topic_publish(rounds=400):
    """17 and 18: the same backends as moto's lookup; the same deliveries as moto's Topic.publish."""
    import json

    from moto.core.base_backend import BackendDict
    from moto.sns.models import Topic, sns_backends
    from moto.sqs.models import sqs_backends

    for account in ("123456789012", "210987654321", "123456789012"):
        direct = sns_backends[account]
        if direct is not sitecustomize.usual_backend_lookup(sns_backends, account) or not isinstance(sns_backends, BackendDict):
            print(f"the backend of {account} found without a lock is not moto's")
            sys.exit(1)
    sns, sqs = sns_backends["123456789012"]["us-east-1"], sqs_backends["123456789012"]["us-east-1"]
    twins = []
    for name in ("direct", "usual"):
        topic = sns.create_topic(f"listed-{name}")
        queues = []
        # three queues behind different filter policies, one of them subscribed twice over two topics' worth
        for k, policy in enumerate([None, {"attr1_x": [{"exists": True}]}, {"attr2_type": [{"prefix": "p"}, "plain"]}]):
            queue = sqs.create_queue(f"listed-{name}-{k}")
            subscription = sns.subscribe(topic.arn, queue.queue_arn, "sqs")
            sns.set_subscription_attributes(subscription.arn, "RawMessageDelivery", "true")
            if policy is not None:
                sns.set_subscription_attributes(subscription.arn, "FilterPolicy", json.dumps(policy))
            queues.append(queue)
        twins.append((topic, queues))
    (direct_topic, direct_queues), (usual_topic, usual_queues) = twins
    for _ in range(rounds):
        attributes = {}
        for a in range(1, rng.randint(0, 3) + 1):
            attributes[f"attr{a}_{rng.choice(['x', 'type'])}"] = {"Type": "String", "Value": rng.choice(["plain", "pa", "x"])}
        message = rng.choice(TEXT[:-1])
        Topic.publish(direct_topic, message, message_attributes=attributes)
        sitecustomize.usual_topic_publish(usual_topic, message, message_attributes=attributes)
    for k, (got, expected) in enumerate(zip(direct_queues, usual_queues)):
        shape = lambda queue: [(m.body, json.dumps(m.message_attributes, sort_keys=True)) for m in queue._messages]
        if shape(got) != shape(expected):
            print(f"topic subscriptions listed directly: queue {k} got other messages than the usual way")
            sys.exit(1)
    counts = [len(queue._messages) for queue in direct_queues]
    if counts[0] != rounds or not 0 < min(counts[1:]) < rounds:
        print(f"topic subscriptions listed directly: deliveries {counts} of {rounds} do not exercise the filters")
        sys.exit(1)
    if [len(t.sent_notifications) for t, _ in twins] != [rounds, rounds]:
        print("topic subscriptions listed directly: the topic did not keep what it sent")
        sys.exit(1)
    print(f"backends found without a lock: moto's own; a topic's subscriptions listed directly: {rounds} random messages, the same deliveries to 3 filtered queues as the usual way")


def check_clock():
    """moto's "now" read directly is the now moto computed (same clock), and a given datetime still goes moto's way."""
    import datetime
    import time

    from moto.core import utils
    from moto.sqs import models

    if models.unix_time_millis is not utils.unix_time_millis:
        print("moto.sqs.models still holds the old unix_time_millis")
        sys.exit(1)
    for _ in range(1000):
        before = time.time()
        now = utils.unix_time()
        millis = utils.unix_time_millis()
        after = time.time()
        if not (before <= now <= after and before * 1000 <= millis <= after * 1000):
            print(f"unix_time {now} / unix_time_millis {millis} outside [{before}, {after}]")
            sys.exit(1)
    given = datetime.datetime(2026, 1, 2, 3, 4, 5, 678000)
    if utils.unix_time(given) != 1767323045.678 or utils.unix_time_millis(given) != 1767323045678.0:
        print(f"unix_time of a given datetime: {utils.unix_time(given)}, {utils.unix_time_millis(given)}")
        sys.exit(1)
    print("clock read directly: the same now, and a given datetime as moto computes it")


check_form_pairs()
check_publish_batch_params()
check_publish_batch_from_body()
check_odd_field_names()
check_backends_and_topic_publish()
check_clock()
check_fast_headers()
check_listed_once_and_request_ids()
check_publish_batch_served_directly()
