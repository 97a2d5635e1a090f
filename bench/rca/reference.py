"""Runs the RiskLoc repository's reference implementations on generated datasets and scores them exactly as
its utils/evaluation.py does (root_cause_postprocessing + score_root_causes; micro-F1 over TP/FP/FN).

usage: python reference.py REF_DIR DATA_DIR DATASET ALGORITHM [--files N] [--only F1,F2] [--timeout S]
       python reference.py REF_DIR DATA_DIR DATASET --score PREDICTIONS.jsonl   (another method's predictions)
Prints one JSON line per file: {"file", "tp", "fp", "fn", "seconds", "predicted", "label"} (or "error").
Each file runs in a forked child, killed when the method has not finished --timeout seconds after reading it.
The reference code is imported from REF_DIR (a checkout of the RiskLoc authors' repository, not committed here)
and run with its own defaults (utils/argument_parser.py).
"""
import json
import multiprocessing
import os
import sys
import time

ref_dir, data_dir, dataset, algorithm = sys.argv[1:5]
ref_dir, data_dir = os.path.abspath(ref_dir), os.path.abspath(data_dir)
opts = sys.argv[5:]
predictions_file = os.path.abspath(opts[0]) if algorithm == "--score" else None
max_files = int(opts[opts.index('--files') + 1]) if '--files' in opts else None
timeout = int(opts[opts.index('--timeout') + 1]) if '--timeout' in opts else 120
files_arg = opts[opts.index('--only') + 1].split(',') if '--only' in opts else None

sys.path.insert(0, ref_dir)
os.chdir(ref_dir)
from utils.run_utils import read_dataframe, run_method, get_label  # noqa: E402
from utils.evaluation import root_cause_postprocessing, score_root_causes  # noqa: E402
import numpy as np  # noqa: E402

# the defaults of the repository's argument parser, per algorithm
DEFAULTS = {
    'riskloc': dict(risk_threshold=0.5, pep_threshold=0.02, n_remove=5, remove_relative=False, prune_elements=True),
    'autoroot': dict(delta_threshold=0.25),
    'robustspot': dict(k=3, lambda_amplification=100, contribution_ability_threshold=0.0, confidence_threshold=0.8),
    'squeeze': dict(ps_upper_bound=0.9, max_num_elements_single_cluster=12),
    'hotspot': dict(pt=0.8, m=200, scoring='gps'),
    'r_adtributor': dict(teep=0.2, k=3),
    'adtributor': dict(tep=0.1, teep=0.1, k=3),
}


directory = os.path.join(data_dir, dataset)

if algorithm == '--score':
    # predictions made elsewhere (one JSON line per file: {"file", "predicted": [...], "seconds"}), normalised
    # as root_cause_postprocessing's last step does, scored by score_root_causes
    with open(predictions_file) as f:
        for line in f:
            p = json.loads(line)
            label = get_label(directory, p['file'], False)
            predictions = np.unique(p['predicted']) if p['predicted'] else np.array([])
            predictions = np.array(['&'.join(sorted(rc.split('&'))) for rc in predictions])
            tp, fp, fn, _ = score_root_causes(predictions, label)
            print(json.dumps({'file': p['file'], 'tp': int(tp), 'fp': int(fp), 'fn': int(fn),
                              'seconds': p.get('seconds', 0), 'predicted': p['predicted'], 'label': label}))
    sys.exit(0)

files = files_arg or sorted(f[:-4] for f in os.listdir(directory) if f.endswith('.csv') and f != 'injection_info.csv')
if max_files is not None:
    files = files[:max_files]


def run_one(file, out):
    """In a child process (forked: the modules are loaded): read the file, report that, run, report the result."""
    try:
        df, attributes, df_a, df_b = read_dataframe(directory, file, False, False)
        out.put(('read', None))
        start = time.time()
        root_causes = run_method(df, [df_a, df_b], attributes, algorithm, DEFAULTS[algorithm], False, False)
        predictions = root_cause_postprocessing(root_causes, algorithm)
        out.put(('done', ([str(p) for p in predictions], time.time() - start)))
    except Exception as err:  # noqa: BLE001
        out.put(('error', repr(err)[:300]))


# Each file runs in a child process that is killed at the timeout: an alarm signal only interrupts Python
# between bytecodes, and some methods spend minutes inside one pandas or numpy call on the H set's 24 M leaves.
# The timeout counts from the end of reading the file, as before.
context = multiprocessing.get_context('fork')
for file in files:
    label = get_label(directory, file, False)
    queue = context.Queue()
    child = context.Process(target=run_one, args=(file, queue))
    child.start()
    kind, value = 'error', None
    while child.is_alive() or not queue.empty():  # reading always finishes, unless the child dies
        try:
            kind, value = queue.get(timeout=5)
            break
        except Exception:  # queue.Empty
            continue
    if value is None and kind == 'error':
        value = f'the child exited with code {child.exitcode} before reading the file'
    if kind == 'read':
        try:
            kind, value = queue.get(timeout=timeout)
        except Exception:  # queue.Empty: the method did not finish in time
            kind, value = 'timeout', None
    if child.is_alive():
        child.kill()
    child.join()
    if kind == 'done':
        predicted, seconds = value
        tp, fp, fn, _ = score_root_causes(np.array(predicted), label)
        print(json.dumps({'file': file, 'tp': int(tp), 'fp': int(fp), 'fn': int(fn), 'seconds': seconds,
                          'predicted': predicted, 'label': label}), flush=True)
    elif kind == 'timeout':
        print(json.dumps({'file': file, 'error': f'timeout after {timeout} s', 'label': label}), flush=True)
    else:
        print(json.dumps({'file': file, 'error': value, 'label': label}), flush=True)
