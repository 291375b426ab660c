from omnikanal.outbox import signing

# The example from the Standard Webhooks specification.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MESSAGE_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'


def test_signature_matches_the_specification_example() -> None:
    signature = signing.sign(SECRET, message_id=MESSAGE_ID, timestamp=TIMESTAMP, body=BODY)
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_verify_accepts_any_listed_signature_and_rejects_tampering() -> None:
    good = signing.sign(SECRET, message_id=MESSAGE_ID, timestamp=TIMESTAMP, body=BODY)
    header = f"v1,bm90IGl0 {good}"
    assert signing.verify(
        SECRET, message_id=MESSAGE_ID, timestamp=TIMESTAMP, body=BODY, signature_header=header
    )
    assert not signing.verify(
        SECRET, message_id=MESSAGE_ID, timestamp=TIMESTAMP, body=b"{}", signature_header=header
    )


def test_new_secrets_are_distinct_and_prefixed() -> None:
    first, second = signing.new_secret(), signing.new_secret()
    assert first != second
    assert first.startswith("whsec_")
