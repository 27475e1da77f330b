"""When the terminal write stores an attempt's logs (``runners.pipeline.finalise.logs_to_write``)."""
from runners.pipeline.finalise import logs_to_write


def test_empty_logs_of_the_first_attempt_need_no_item() -> None:
    assert not logs_to_write("", 1)


def test_any_text_is_written() -> None:
    assert logs_to_write("hello", 1)


def test_a_later_attempt_writes_even_empty_logs_to_replace_the_earlier_attempts() -> None:
    assert logs_to_write("", 2)
