"""Agency runs: audit every client of a config, write each client's reports, a history and a summary, deliver it.

    settings.py   config + command line -> Settings (channels included), checked before anything is audited
    targets.py    which clients, their results one at a time (offline or live), shards
    client.py     one client as one unit: suppressions, history comparison, reports, history row
    history.py    the run's side of the history database
    reports.py    the files a run writes (each client's reports, the summary, a shard file), atomically
    summary.py    the typed summary rows and document (summary.json)
    delivery.py   the finished run handed to every channel (auditor.outputs.channels)
    run.py        `audit run`; merge.py `audit merge`
    lock.py       the output folder's lock; failures.py what stops a run; log.py its lines on stderr
    documents.py  reading the JSON results a run wrote

Nothing one client does stops the run: reading and auditing it, its suppressions, the comparison with its
history, rendering and writing its reports are one unit, and whatever that unit raises makes that client errored
(one log line naming the client, the file and the cause) while the others go on. Only a failure of the run itself
stops it (`RunFailed`).
"""
