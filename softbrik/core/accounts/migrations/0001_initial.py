from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from softbrik.core.accounts.models import Role, TeamStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='LoginAttempt',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('email', fields.CharField(db_index=True, max_length=254)),
                ('client_address', fields.CharField(db_index=True, max_length=64)),
                ('at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'login_attempt', 'app': 'accounts', 'pk_attr': 'id', 'table_description': 'Failed sign-ins, for throttling per account and per client address (R-ACC-4).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Team',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('timezone', fields.CharField(default='Europe/Copenhagen', max_length=64)),
                ('language', fields.CharField(default='da', max_length=5)),
                ('country', fields.CharField(default='DK', max_length=2)),
                ('vat_number', fields.CharField(null=True, max_length=32)),
                ('address', fields.TextField(default='', unique=False)),
                ('status', fields.CharEnumField(default=TeamStatus.ACTIVE, description='ACTIVE: ACTIVE\nPAST_DUE: PAST_DUE\nSUSPENDED: SUSPENDED\nCLOSING: CLOSING\nCLOSED: CLOSED', enum_type=TeamStatus, max_length=16)),
                ('anchor_day', fields.SmallIntField()),
                ('calendar_from', fields.DateField(null=True)),
                ('payment_customer', fields.CharField(null=True, max_length=64)),
                ('payment_token', fields.CharField(null=True, max_length=128)),
                ('card_brand', fields.CharField(null=True, max_length=20)),
                ('card_last4', fields.CharField(null=True, max_length=4)),
                ('card_exp_month', fields.SmallIntField(null=True)),
                ('card_exp_year', fields.SmallIntField(null=True)),
            ],
            options={'table': 'team', 'app': 'accounts', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='User',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('team', fields.ForeignKeyField('accounts.Team', source_field='team_id', db_constraint=True, to_field='id', related_name='users', on_delete=OnDelete.CASCADE)),
                ('email', fields.CharField(unique=True, max_length=254)),
                ('name', fields.CharField(max_length=200)),
                ('password_hash', fields.CharField(max_length=255)),
                ('role', fields.CharEnumField(default=Role.MEMBER, description='ADMIN: ADMIN\nMEMBER: MEMBER', enum_type=Role, max_length=8)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('removal_on', fields.DateField(null=True)),
                ('access_ended_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'user', 'app': 'accounts', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Invitation',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('team', fields.ForeignKeyField('accounts.Team', source_field='team_id', db_constraint=True, to_field='id', related_name='invitations', on_delete=OnDelete.CASCADE)),
                ('email', fields.CharField(max_length=254)),
                ('name', fields.CharField(max_length=200)),
                ('briks', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('invited_by', fields.ForeignKeyField('accounts.User', source_field='invited_by_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('accepted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'invitation', 'app': 'accounts', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Seat',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('team', fields.ForeignKeyField('accounts.Team', source_field='team_id', db_constraint=True, to_field='id', related_name='seats', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('accounts.User', source_field='user_id', db_constraint=True, to_field='id', related_name='seats', on_delete=OnDelete.CASCADE)),
                ('brik', fields.CharField(max_length=40)),
                ('starts_on', fields.DateField()),
                ('ends_on', fields.DateField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'seat', 'app': 'accounts', 'indexes': [Index(fields=['team_id', 'brik'])], 'pk_attr': 'id', 'table_description': "A user's use of a Brik: billed per period from `starts_on` up to `ends_on` (exclusive)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Session',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('accounts.User', source_field='user_id', db_constraint=True, to_field='id', related_name='sessions', on_delete=OnDelete.CASCADE)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('client_address', fields.CharField(default='', max_length=64)),
            ],
            options={'table': 'session', 'app': 'accounts', 'pk_attr': 'id', 'table_description': 'A sign-in. The client gets the token once, and only its hash is stored.'},
            bases=['Model'],
        ),
    ]
