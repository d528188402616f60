"""Details the tutorials show, checked as their users would meet them: a CSV with a
numeric header, the save message, the curl commands, ``get``/``info``, ..."""

from __future__ import annotations

import requests

IRIS_CSV = b"0,1,2,3\n5.1,3.5,1.4,0.2\n6.2,3.4,5.4,2.3"


def test_csv_with_a_numeric_header_is_read_with_that_header(iris_service, serve):
    server = serve(iris_service)
    answer = requests.post(f"{server.url}/predict", data=IRIS_CSV,
                           headers={"Content-Type": "text/csv"}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json() == [0, 2]
