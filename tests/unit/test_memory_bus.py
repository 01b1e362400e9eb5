from wiredesk.bus.memory import MemoryBus


def test_groups_have_their_own_offsets_so_a_new_group_replays_everything():
    bus = MemoryBus(partitions=3)
    for i in range(10):
        bus.publish("t", f"k{i}", f"v{i}".encode())
    first = bus.consumer(["t"], "g1")
    batch = first.poll(100, 0)
    assert sorted(m.value for m in batch) == sorted(f"v{i}".encode() for i in range(10))
    first.commit(batch)
    assert sum(first.lag().values()) == 0
    assert bus.consumer(["t"], "g1").poll(100, 0) == []  # restarted member resumes
    assert len(bus.consumer(["t"], "g2").poll(100, 0)) == 10  # replay group


def test_same_key_same_partition_in_publish_order():
    bus = MemoryBus(partitions=4)
    for i in range(5):
        bus.publish("t", "story-1", str(i).encode())
    messages = bus.messages("t")
    assert {m.partition for m in messages} == {messages[0].partition}
    assert [m.value for m in messages] == [b"0", b"1", b"2", b"3", b"4"]
    assert [m.offset for m in messages] == [0, 1, 2, 3, 4]


def test_uncommitted_records_come_back_after_a_restart():
    bus = MemoryBus(partitions=1)
    for i in range(4):
        bus.publish("t", None, str(i).encode())
    c = bus.consumer(["t"], "g")
    c.commit(c.poll(2, 0))
    c.poll(2, 0)  # taken but never committed: the worker "crashes" here
    again = bus.consumer(["t"], "g").poll(10, 0)
    assert [m.value for m in again] == [b"2", b"3"]
    assert c.lag() == {("t", 0): 2}
