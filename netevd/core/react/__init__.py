"""The reactions, pure: from a transition of the state to the actions it calls for. The kernel's
link reactions and routes.d (kernel), the kernel change directories link-added.d to gateway.d
(kernel_changes), the managers' states and manager.d (managers, with NetworkManager's vocabulary
in networkmanager), NetworkManager's VPNs (vpn), policy routing (routing) and gateway liveness
(liveness). How a run is built is netevd.core.runs; DHCP's reactions are
netevd.core.dhcp.reactions."""
