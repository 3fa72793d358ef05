import logging


def test_the_two_warnings_that_do_not_apply_are_dropped_and_nothing_else(caplog):
    """Issue 33, point 14: Lighteval printed them three times a run."""
    from pipeline.answers import lighteval_shims

    lighteval_shims.install()
    caplog.set_level(logging.WARNING)
    task, data = logging.getLogger("lighteval.tasks.lighteval_task"), logging.getLogger("lighteval.data")
    task.warning("Careful, the task document_qa is using evaluation data to build the few shot examples.")
    data.warning("You cannot select the number of dataset splits for a generative evaluation at the moment. "
                 "Automatically inferring.")
    task.warning("Careful, the task other_task is using evaluation data to build the few shot examples.")
    data.warning("Something else went wrong")
    assert [r.getMessage() for r in caplog.records] == [
        "Careful, the task other_task is using evaluation data to build the few shot examples.",
        "Something else went wrong"]
