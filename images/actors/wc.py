"""abacosamples/wc: count the words of the message, print the count and return it as a result.

Port of TACC's word-count sample; the result (the count as ASCII digits) is what
GET /actors/{id}/executions/{eid}/results returns.
"""

import os
import sys

from agavepy.actors import RESULTS_SOCKET, get_context, send_bytes_result


def main() -> None:
    context = get_context()
    message = context["raw_message"] or ""
    count = len(message.split())
    print(f"Number of words is: {count}")
    if os.path.exists(RESULTS_SOCKET):
        send_bytes_result(str(count).encode())
    else:  # run by hand (docker run) rather than by an Abaco worker
        print(f"{RESULTS_SOCKET} is not mounted; result not sent", file=sys.stderr)


if __name__ == "__main__":
    main()
