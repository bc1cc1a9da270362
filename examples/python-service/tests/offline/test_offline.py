# A suite that passes without calling the service (scenario "no-traffic"): it checks only its own helpers,
# as a suite whose BASE_URL points nowhere useful or whose client is mocked would. Green would be a lie.
import base64
import json


def test_token_is_base64_json():
    raw = base64.urlsafe_b64encode(json.dumps({"sub": "ada"}).encode()).decode()
    assert json.loads(base64.urlsafe_b64decode(raw)) == {"sub": "ada"}


def test_order_ids_are_strings():
    assert all(isinstance(i, str) for i in ["1", "2"])
