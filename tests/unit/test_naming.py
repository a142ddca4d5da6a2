from lab.net.naming import link_name_problem, new_prefix, prefix_problem


def test_new_prefixes_are_valid_and_distinct():
    prefixes = {new_prefix() for _ in range(200)}
    assert len(prefixes) > 190
    assert all(prefix_problem(p) is None and len(p) == 7 for p in prefixes)


def test_linux_accepts_shell_metacharacters_in_names():
    # Linux only refuses '/', ':' and white space; '$(id)' is a valid interface name.
    assert link_name_problem("x$(id)") is None
    assert link_name_problem("y;id") is None
    assert link_name_problem("a b") is not None
    assert (
        link_name_problem("é" * 8) == f"link name {'é' * 8!r} is 16 bytes; Linux allows at most 15"
    )
