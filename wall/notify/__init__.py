"""Notifications that reach people, and retries you can trust (issue 20).

    notice.py    AlertNotice + Notifier.alert_changed: the health engine's entry point
    render.py    the words, Vietnamese and English, with a link back to the page
    recipients.py  subscriptions by role and province, plus [notify]'s fixed lists
    outbox.py    the table every message is written to before it is sent
    sender.py    the loop that claims due messages, sends, records, paces retries
    backoff.py   exponential backoff with jitter, capped
    channels/    e-mail (SMTP), signed webhook, SMS gateway
    api.py       /api/outbox, resend, /api/notify/test
    service.py   wiring for one server (Services.notify)

Import from the modules (``from iocwall.wall.notify.notice import AlertNotice``): this
package file imports nothing, so that wall/config.py and wall/auth/ can use contacts.py and
smtp_url.py without pulling in the rest.
"""
