"""Background book transfers (Huey): the task takes the transfer's id and runs the service,
reporting progress on its job row."""

from __future__ import annotations

from huey.contrib.djhuey import db_task

from kehu.core.actor import Actor


@db_task()
def book_transfer_task(transfer_id: int, customer_ids: list[int]) -> None:
    from kehu.assignment.models import BookTransfer
    from kehu.assignment.services import book_transfer_run
    from kehu.core.jobs import job_report
    from kehu.core.models import Job

    transfer = (BookTransfer.objects.select_related("from_user", "to_user", "created_by", "job")
                .filter(pk=transfer_id).first())
    if transfer is None or transfer.status == BookTransfer.DONE:
        return
    job = transfer.job
    job_report(job, status=Job.RUNNING, total=len(customer_ids))
    try:
        book_transfer_run(actor=Actor(user=transfer.created_by, via="system"), transfer=transfer,
                          customer_ids=customer_ids,
                          progress=lambda done, total: job_report(job, done=done))
    except Exception as exc:
        job_report(job, status=Job.FAILED, error=str(exc))
        raise
    job_report(job, status=Job.DONE,
               done=len(customer_ids), result={"customers": transfer.customers_moved,
                                               "tasks": transfer.tasks_moved})
