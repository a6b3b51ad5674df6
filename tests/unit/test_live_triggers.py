"""Triggers, the region of interest and the newest-frame buffer, on synthetic belt frames."""
import threading
import time

import numpy as np
import pytest

from inspector.core.errors import ConfigError
from inspector.core.live.frames import Frame
from inspector.core.live.latest import FrameBuffer
from inspector.core.live.roi import Roi
from inspector.core.live.sources import SourceEnded, open_source
from inspector.core.live.triggers import IntervalTrigger, PresenceTrigger, SoftwareTrigger, Trigger, parse_trigger


def belt_frames(spec):
    src = open_source(spec)
    src.open()
    out = []
    try:
        while True:
            img, meta = src.read()
            out.append(Frame(len(out), img, time.time(), time.perf_counter(), spec, meta))
    except SourceEnded:
        return out


def fired_parts(trigger, frames):
    return [(f.meta["part"], f.meta.get("offset")) for f in frames if trigger.fire(f)]


def test_presence_fires_once_per_part_when_it_has_arrived():
    frames = belt_frames("synthetic://line?size=96&mode=belt&count=12&seed=5&defect_rate=0.5")
    assert fired_parts(parse_trigger("presence"), frames) == [(i, 0) for i in range(12)]


def test_presence_on_a_small_region_and_a_belt_that_never_stops():
    # dwell=0: the part is never still; the changed area peaks as the part is centred on the region
    frames = belt_frames("synthetic://line?size=96&mode=belt&count=8&seed=6&dwell=0&travel=6&gap=2")
    fired = fired_parts(parse_trigger("presence:32,32,32,32"), frames)
    assert [p for p, _ in fired] == list(range(8))
    assert all(abs(dx) <= 16 for _, dx in fired)  # within one belt step of the centre


def test_presence_ignores_noise_and_slow_light_drift_on_an_empty_belt():
    frames = belt_frames("synthetic://line?size=96&mode=belt&count=1&gap=40")[:40]
    assert all(f.meta["part"] is None for f in frames)
    trig = PresenceTrigger()
    drifted = [Frame(f.id, np.clip(f.image.astype(np.int16) + i // 2, 0, 255).astype(np.uint8), f.captured_at, f.t,
                     f.source, f.meta) for i, f in enumerate(frames)]  # 20 grey levels brighter by the end
    assert not any(trig.fire(f) for f in drifted)
    assert trig.coverage < 0.05


def test_interval_software_and_free_triggers():
    def frame(t):
        return Frame(0, np.zeros((8, 8, 3), np.uint8), 0.0, t, "x")

    iv = parse_trigger("interval:100")
    assert isinstance(iv, IntervalTrigger)
    assert [iv.fire(frame(t / 1000)) for t in (0, 40, 80, 120, 150, 230, 240)] == [
        True, False, False, True, False, True, False]
    sw = parse_trigger("software")
    assert isinstance(sw, SoftwareTrigger) and not sw.fire(frame(0))
    free = parse_trigger(None)
    assert type(free) is Trigger and free.fire(frame(0)) and str(free) == "free"


@pytest.mark.parametrize("spec", ["sometimes", "interval:soon", "interval:-5", "presence:1,2,3"])
def test_bad_trigger_specs_are_one_line_errors(spec):
    with pytest.raises(ConfigError) as e:
        parse_trigger(spec)
    assert "\n" not in str(e.value)


def test_roi_parse_clip_and_crop():
    roi = Roi.parse("10, 20, 30, 40")
    img = np.arange(100 * 50 * 3, dtype=np.uint32).reshape(100, 50, 3).astype(np.uint8)
    assert roi.clip(img.shape) == (10, 20, 30, 40)
    assert np.array_equal(roi.crop(img), img[20:60, 10:40])
    assert Roi.parse("40,90,100,100").clip(img.shape) == (40, 90, 10, 10)  # cut at the frame's edge
    assert Roi.parse(None) is None and Roi.parse("") is None
    for bad in ("1,2,3", "a,b,c,d", "0,0,0,10", "-1,0,5,5"):
        with pytest.raises(ConfigError):
            Roi.parse(bad)
    with pytest.raises(ConfigError, match="outside the 50×100 frame"):
        Roi.parse("60,0,10,10").crop(img)


def _f(i):
    return Frame(i, np.zeros((2, 2, 3), np.uint8), 0.0, 0.0, "x")


def test_newest_frame_slot_drops_and_counts_old_frames():
    slot = FrameBuffer(1, drop_oldest=True)
    for i in range(5):
        slot.put(_f(i))
    assert [f.id for f in slot.take(4, timeout=0)] == [4] and slot.dropped == 4
    assert slot.take(1, timeout=0.01) == []
    slot.close()
    assert not slot.put(_f(9)) and slot.take(1, timeout=1) == [] and slot.dropped == 5


def test_waiting_queue_blocks_the_producer_and_batches_what_waits():
    q = FrameBuffer(3, drop_oldest=False)
    for i in range(3):
        q.put(_f(i))
    assert not q.wait_room(0.05)
    t = threading.Thread(target=q.put, args=(_f(3),))
    t.start()
    time.sleep(0.1)
    assert t.is_alive()  # full: the producer waits, nothing is dropped
    assert [f.id for f in q.take(2)] == [0, 1]
    t.join(2)
    assert not t.is_alive() and [f.id for f in q.take(8)] == [2, 3] and q.dropped == 0
    q.close()
    assert not q.wait_room(0.01)


def test_presence_relearns_the_belt_when_it_starts_with_a_part_in_view():
    frames = belt_frames("synthetic://line?size=96&mode=belt&count=4&seed=8")
    edge = next(i for i, f in enumerate(frames) if f.meta.get("offset") == -72)  # part 0 just entering
    assert [p for p, _ in fired_parts(parse_trigger("presence"), frames[edge:])] == [0, 1, 2, 3]
    # half of part 0 in the first frame: the empty belt then looks "changed"; once it has been still
    # for 50 frames it is learnt as the background, and the following parts fire again
    frames = belt_frames("synthetic://line?size=96&mode=belt&count=3&seed=8&gap=60")
    half = next(i for i, f in enumerate(frames) if f.meta.get("offset") == -48)
    assert [p for p, _ in fired_parts(parse_trigger("presence"), frames[half:])] == [0, 1, 2]
