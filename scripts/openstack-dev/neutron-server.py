#!/usr/bin/python3
# neutron-server for the development cloud of scripts/openstack-dev.sh, which has no L2 agent to
# bind ports. Neutron ships a test mechanism driver (ML2 `test`, loaded by name), but it asserts
# what Neutron's unit tests expect of each call and binds only on hosts with special names. Here
# its checks are switched off and it binds every port on any host at once (Open vSwitch, active),
# which is all Nova's fake hypervisor needs.
import sys

from neutron.cmd.eventlet.server import main  # first: it patches the standard library for eventlet

from neutron_lib.api.definitions import portbindings  # noqa: E402
from neutron_lib import constants  # noqa: E402
from neutron_lib.plugins.ml2 import api  # noqa: E402

from neutron.tests.unit.plugins.ml2.drivers import mechanism_test  # noqa: E402


def bind_port(self, context):
    for segment in context.segments_to_bind:
        context.set_binding(segment[api.ID], portbindings.VIF_TYPE_OVS,
                            {portbindings.CAP_PORT_FILTER: True},
                            status=constants.PORT_STATUS_ACTIVE)
        return


def unchecked(self, context, original_expected=None):
    pass


driver = mechanism_test.TestMechanismDriver
driver._check_network_context = driver._check_subnet_context = driver._check_port_context = unchecked
# It also keeps a per-process record of the ports it bound, which a port unbound by another
# worker process is missing from (a KeyError).
driver.update_port_precommit = unchecked
driver.bind_port = bind_port

sys.exit(main())
