"""lab.daemons.sandbox: what a sandboxed daemon writes to /etc or does to the host name stays
inside."""

from lab.daemons.sandbox import HostView, Sandbox, SandboxSpec


async def test_a_sandbox_keeps_etc_the_host_name_and_run_to_itself():
    host = HostView.take()
    spec = SandboxSpec(
        hostname="box-one",
        private_run=True,
        users=(("netevd-lab-user", 64999),),
        hidden=("/etc/hostname",),
        run_dirs=(("netevd-lab", "netevd-lab-user"),),
    )
    box = Sandbox(spec)
    box.write_etc("netevd-lab-early", "early\n")
    async with box:
        assert (await box.run("cat", "/etc/netevd-lab-early")) == "early\n"
        assert await box.hostname() == "box-one"
        assert (await box.run("getent", "passwd", "netevd-lab-user")).startswith(
            "netevd-lab-user:x:64999:64999:"
        )
        assert await box.run("test", "-e", "/etc/hostname", check=False) == ""
        assert "hostname" not in await box.run("ls", "/etc")
        await box.run("sh", "-c", "echo written > /etc/netevd-lab-file; hostname box-two")
        assert (box.etc_upper / "netevd-lab-file").read_text() == "written\n"
        assert await box.hostname() == "box-two"
        assert (await box.run("findmnt", "-n", "-o", "FSTYPE", "/run")).strip() == "tmpfs"
        owner = await box.run("stat", "-c", "%U", "/run/netevd-lab")
        assert owner.strip() == "netevd-lab-user"
        assert HostView.take() == host  # while it runs...
    assert HostView.take() == host  # ...and after
    assert not box.workdir.exists()
