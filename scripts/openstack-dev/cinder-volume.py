#!/usr/bin/python3
# cinder-volume with Cinder's own test driver (cinder.tests.fake_driver.FakeLoggingVolumeDriver),
# for the development cloud of scripts/openstack-dev.sh. That driver logs instead of touching disks
# but has no working extend (it inherits LVM's, which needs a volume group); here extending is
# logged and succeeds, as the other calls do.
import sys

from cinder.cmd import volume  # first: it patches the standard library for eventlet

from oslo_log import log  # noqa: E402

from cinder.tests import fake_driver  # noqa: E402

LOG = log.getLogger('cinder.tests.fake_driver')


def extend_volume(self, volume, new_size):
    LOG.info('FakeLoggingVolumeDriver: extend %s to %s GiB', volume.id, new_size)


fake_driver.FakeLoggingVolumeDriver.extend_volume = extend_volume

sys.exit(volume.main())
