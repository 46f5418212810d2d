#!/usr/bin/python3
# The set-up of the development cloud of scripts/openstack-dev.sh, once its services run: the
# service users and the catalog, then what a site gives a SimpleVM portal: a project with a member
# user and that user's application credential, a network with a subnet, de.NBI's flavors and small
# images (one tagged for a research environment), roomy quotas. Every step looks first and makes
# only what is missing, so it can run at every start. `identity` (service users, catalog, the
# project and its member) runs once Keystone is up, `resources` once every service is; `clean`
# deletes what the portal made in the project (servers, volumes, snapshot images). Writes $SIMPLEVM_OPENSTACK_DIR/openrc (the
# portal's settings) and openrc-admin (the cloud's admin, for tests that inspect or break the cloud).
import os
import sys
import time

import openstack
from keystoneauth1 import exceptions as ks_exceptions

STATE = os.environ['SIMPLEVM_OPENSTACK_DIR']
PASSWORD = os.environ['OS_PASSWORD']
KEYSTONE = 'http://127.0.0.1:5000/v3'
REGION = 'RegionOne'
PROJECT = 'simplevm'
USER = 'simplevm'
NETWORK = 'simplevm-net'
CREDENTIAL = 'simplevm-portal'

SERVICES = [  # name, type, URL (%(project_id)s is filled in by Keystone)
    ('glance', 'image', 'http://127.0.0.1:9292'),
    ('placement', 'placement', 'http://127.0.0.1:8778'),
    ('nova', 'compute', 'http://127.0.0.1:8774/v2.1'),
    ('neutron', 'network', 'http://127.0.0.1:9696'),
    ('cinder', 'block-storage', 'http://127.0.0.1:8776/v3/%(project_id)s'),
    ('cinderv3', 'volumev3', 'http://127.0.0.1:8776/v3/%(project_id)s'),
]
SERVICE_USERS = ['glance', 'placement', 'nova', 'cinder', 'neutron']
FLAVORS = [('de.NBI tiny', 1, 2), ('de.NBI small', 2, 4), ('de.NBI medium', 4, 8), ('de.NBI large', 8, 16)]
IMAGES = [  # name, tags, properties
    ('Ubuntu-22.04', ['ubuntu', 'jammy', 'lts'], {}),
    ('Ubuntu-24.04', ['ubuntu', 'noble', 'lts'], {}),
    ('Debian-12', ['debian', 'bookworm'], {'default_user': 'debian'}),
    # SimpleVM's research-environment images carry the template's name as a tag.
    ('RStudio-Ubuntu-22.04', ['ubuntu', 'rstudio'], {}),
]


def say(what):
    print(f'{time.strftime("%H:%M:%S")} setup-cloud: {what}', file=sys.stderr, flush=True)


def connect(user, project, **extra):
    return openstack.connect(auth_url=KEYSTONE, username=user, password=PASSWORD, project_name=project,
                             user_domain_name='Default', project_domain_name='Default',
                             region_name=REGION, interface='public', **extra)


def ensure(find, make, what):
    found = find()
    if found is not None:
        return found
    say(f'creating {what}')
    return make()


def identity(admin):
    idc = admin.identity
    service_project = ensure(lambda: idc.find_project('service'),
                             lambda: idc.create_project(name='service', domain_id='default'), 'project service')
    roles = {name: ensure(lambda n=name: idc.find_role(n), lambda n=name: idc.create_role(name=n), f'role {name}')
             for name in ('admin', 'member', 'reader', 'service')}
    for name in SERVICE_USERS:
        user = idc.find_user(name, domain_id='default')
        if user is None:
            say(f'creating service user {name}')
            user = idc.create_user(name=name, password=PASSWORD, domain_id='default')
        else:
            idc.update_user(user, password=PASSWORD)
        # Service users need the `service` role: Nova and Cinder send service tokens with it.
        for role in ('admin', 'service'):
            idc.assign_project_role_to_user(service_project, user, roles[role])
    for name, kind, url in SERVICES:
        service = ensure(lambda k=kind: next(iter(idc.services(type=k)), None),
                         lambda n=name, k=kind: idc.create_service(name=n, type=k), f'service {name} ({kind})')
        have = {e.interface for e in idc.endpoints(service_id=service.id)}
        for interface in ('public', 'internal', 'admin'):
            if interface not in have:
                idc.create_endpoint(service_id=service.id, interface=interface, url=url, region_id=REGION)
    project = ensure(lambda: idc.find_project(PROJECT),
                     lambda: idc.create_project(name=PROJECT, domain_id='default',
                                                description='the SimpleVM portal\'s project'), f'project {PROJECT}')
    user = idc.find_user(USER, domain_id='default')
    if user is None:
        say(f'creating user {USER}')
        user = idc.create_user(name=USER, password=PASSWORD, domain_id='default', default_project_id=project.id)
    else:
        idc.update_user(user, password=PASSWORD)
    # A member, not an admin: what a site gives a portal.
    idc.assign_project_role_to_user(project, user, roles['member'])
    return project, user


def wait_for(what, check, seconds=60):
    end = time.time() + seconds
    while True:
        try:
            if check():
                return
        except (ks_exceptions.ConnectFailure, ks_exceptions.EndpointNotFound, openstack.exceptions.HttpException):
            pass
        if time.time() > end:
            raise SystemExit(f'setup-cloud: {what} did not come within {seconds} s')
        time.sleep(1)


def catalogue(admin, project):
    for name, vcpus, ram_gb in FLAVORS:
        ensure(lambda n=name: admin.compute.find_flavor(n, ignore_missing=True),
               lambda n=name, v=vcpus, r=ram_gb: admin.compute.create_flavor(name=n, vcpus=v, ram=r * 1024, disk=20, is_public=True),
               f'flavor {name}')
    for name, tags, props in IMAGES:
        image = next(iter(admin.image.images(name=name)), None)
        if image is not None and image.status != 'active':
            admin.image.delete_image(image)
            image = None
        if image is None:
            say(f'creating image {name}')
            # A few bytes: the fake hypervisor boots nothing.
            admin.image.create_image(name=name, data=f'{name}\n'.encode(), disk_format='raw', container_format='bare',
                                     visibility='public', tags=tags, allow_duplicates=True, **props)
    # Roomy quotas: the portal keeps its own per portal project; the test suites make many VMs.
    admin.set_compute_quotas(project.id, instances=1000, cores=10000, ram=100_000_000, key_pairs=1000)
    admin.set_volume_quotas(project.id, volumes=1000, gigabytes=100_000, snapshots=1000)
    admin.set_network_quotas(project.id, port=2000, security_group=100, security_group_rule=1000)


def network(admin, project):
    net = ensure(lambda: next(iter(admin.network.networks(name=NETWORK, project_id=project.id)), None),
                 lambda: admin.network.create_network(name=NETWORK, project_id=project.id), f'network {NETWORK}')
    # In 192.168.0.0/19, like de.NBI's project networks, so that SimpleVM's SSH gateway ports fit.
    ensure(lambda: next(iter(admin.network.subnets(network_id=net.id)), None),
           lambda: admin.network.create_subnet(name=f'{NETWORK}-subnet', network_id=net.id, project_id=project.id,
                                               ip_version=4, cidr='192.168.10.0/24', enable_dhcp=True),
           f'subnet of {NETWORK}')
    return net


def application_credential(project, user):
    """The member's application credential: kept from an earlier start while it still works."""
    path = os.path.join(STATE, 'openrc')
    old = {}
    if os.path.exists(path):
        for line in open(path):
            if line.startswith('export ') and '=' in line:
                key, _, value = line[len('export '):].strip().partition('=')
                old[key] = value.strip("'")
    if old.get('OS_APPLICATION_CREDENTIAL_ID'):
        try:
            openstack.connect(auth_url=KEYSTONE, auth_type='v3applicationcredential',
                              application_credential_id=old['OS_APPLICATION_CREDENTIAL_ID'],
                              application_credential_secret=old['OS_APPLICATION_CREDENTIAL_SECRET'],
                              region_name=REGION).authorize()
            return old['OS_APPLICATION_CREDENTIAL_ID'], old['OS_APPLICATION_CREDENTIAL_SECRET']
        except Exception:  # noqa: BLE001 (any refusal: make a new one)
            pass
    member = connect(USER, PROJECT)
    for cred in member.identity.application_credentials(user=user.id):
        if cred.name == CREDENTIAL:
            member.identity.delete_application_credential(user.id, cred.id)
    say(f'creating application credential {CREDENTIAL}')
    cred = member.identity.create_application_credential(user.id, CREDENTIAL,
                                                         description='the SimpleVM portal (scripts/openstack-dev.sh)')
    return cred.id, cred.secret


def write_openrc(name, lines):
    path = os.path.join(STATE, name)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'w') as f:
        f.write(''.join(f"export {k}='{v}'\n" for k, v in lines))


def clean(admin):
    """Deletes what the portal (and its tests) made in the project: servers, volumes, snapshot images."""
    project = admin.identity.find_project(PROJECT)
    if project is None:
        return
    servers = list(admin.compute.servers(all_projects=True, project_id=project.id))
    for server in servers:
        admin.compute.delete_server(server, force=True)
    for server in servers:
        admin.compute.wait_for_delete(server, wait=120)
    volumes = list(admin.block_storage.volumes(all_projects=True, project_id=project.id))
    for volume in volumes:
        if volume.status not in ('available', 'error'):
            admin.block_storage.reset_volume_status(volume, status='available', attach_status='detached', migration_status=None)
        admin.block_storage.delete_volume(volume, force=True)
    images = [i for i in admin.image.images(owner=project.id)]
    for image in images:
        admin.image.delete_image(image)
    for volume in volumes:
        admin.block_storage.wait_for_delete(volume, wait=120)
    say(f'deleted {len(servers)} server(s), {len(volumes)} volume(s), {len(images)} image(s) of project {PROJECT}')


def main(phase):
    admin = connect('admin', 'admin')
    if phase == 'clean':
        clean(admin)
        return
    if phase == 'identity':
        # Before the other services start: they log in as their service users at start.
        wait_for('Keystone', lambda: admin.identity.get_domain('default') is not None)
        identity(admin)
        return
    project = admin.identity.find_project(PROJECT)
    user = admin.identity.find_user(USER, domain_id='default')
    wait_for('Nova', lambda: list(admin.compute.flavors()) is not None)
    wait_for('Glance', lambda: list(admin.image.images()) is not None)
    wait_for('Neutron', lambda: list(admin.network.networks()) is not None)
    wait_for('cinder-volume', lambda: any(s['binary'] == 'cinder-volume' and s['state'] == 'up'
                                          for s in admin.block_storage.get('/os-services').json()['services']), 120)
    # The compute host is usable once it is up and Placement knows its resources.
    wait_for('nova-compute', lambda: any(s.binary == 'nova-compute' and s.state == 'up' for s in admin.compute.services())
             and admin.placement.get('/resource_providers').json()['resource_providers'], 120)
    catalogue(admin, project)
    net = network(admin, project)
    cred_id, cred_secret = application_credential(project, user)
    common = [('OS_AUTH_URL', KEYSTONE), ('OS_REGION_NAME', REGION), ('OS_INTERFACE', 'public'),
              ('OS_IDENTITY_API_VERSION', '3')]
    write_openrc('openrc', [
        ('SIMPLEVM_CLOUD', 'openstack'), *common,
        ('OS_AUTH_TYPE', 'v3applicationcredential'),
        ('OS_APPLICATION_CREDENTIAL_ID', cred_id), ('OS_APPLICATION_CREDENTIAL_SECRET', cred_secret),
        ('SIMPLEVM_OS_NETWORK', net.name),
    ])
    write_openrc('openrc-admin', [
        *common, ('OS_AUTH_TYPE', 'password'), ('OS_USERNAME', 'admin'), ('OS_PASSWORD', PASSWORD),
        ('OS_PROJECT_NAME', 'admin'), ('OS_USER_DOMAIN_NAME', 'Default'), ('OS_PROJECT_DOMAIN_NAME', 'Default'),
        ('SIMPLEVM_OS_PROJECT_ID', project.id),
    ])


if __name__ == '__main__':
    if sys.argv[1:] not in (['identity'], ['resources'], ['clean']):
        raise SystemExit('usage: setup-cloud.py identity|resources|clean')
    main(sys.argv[1])
